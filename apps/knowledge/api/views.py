from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.parsers import JSONParser
from apps.core.permissions import ChangeModelPermissions, ReadModelPermissions
from apps.jobs.services import accepted
from apps.knowledge import services, tasks
from apps.knowledge.api.serializers import (
    DocumentAcceptedSerializer,
    DocumentCreateSerializer,
    DocumentSerializer,
    QueryResultSerializer,
    QuerySerializer,
    StatisticsSerializer,
)
from apps.knowledge.extract import UnsupportedDocumentType
from apps.knowledge.fetch import FetchError, check_url
from apps.knowledge.filtersets import DocumentFilterSet
from apps.knowledge.models import Document

MULTIPART_OVERHEAD = 64 * 1024


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


class UnsupportedDocument(APIException):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_code = "unsupported_document"


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(f"The file is larger than KNOWLEDGE_MAX_UPLOAD_MB ({services.max_upload_bytes() >> 20} MB).")


def _queue(document: Document, **kwargs: Any) -> Response:
    result = tasks.ingest_document.delay(document.pk, **kwargs)
    response = accepted(result)
    response.data["document_id"] = document.pk
    return response


class DocumentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[Document],
):
    """Knowledge documents. Create with a multipart ``file`` or a JSON ``url``: the answer is
    202 with the ingestion job (or 200 with the existing document for content already there)."""

    queryset = Document.objects.all()
    serializer_class = DocumentSerializer
    filterset_class = DocumentFilterSet
    search_fields = ["title", "source_url"]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        request={"multipart/form-data": DocumentCreateSerializer, "application/json": DocumentCreateSerializer},
        responses={202: DocumentAcceptedSerializer, 200: DocumentSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > services.max_upload_bytes() + MULTIPART_OVERHEAD:
            raise _too_large()  # refused before the body is read
        serializer = DocumentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        common = {
            "title": data.get("title", ""),
            "collection": data["collection"],
            "category": data["category"],
            "technology_id": data["technology"].pk if data.get("technology") else None,
            "research_task_id": data["research_task"].pk if data.get("research_task") else None,
        }
        with transaction.atomic():
            if data.get("file"):
                upload = data["file"]
                if upload.size > services.max_upload_bytes():
                    raise _too_large()
                try:
                    created = services.create_from_file(upload, content_type=upload.content_type, **common)
                except UnsupportedDocumentType as exc:
                    raise UnsupportedDocument(str(exc)) from exc
            else:
                try:
                    check_url(data["url"], self._allowed_networks())
                except FetchError as exc:
                    raise ValidationError({"url": [str(exc)]}) from exc
                created = services.create_from_url(data["url"], **common)
        if not created.created and created.document.status != "failed":
            return Response(DocumentSerializer(created.document, context={"request": request}).data)
        return _queue(created.document)

    @staticmethod
    def _allowed_networks() -> list[str]:
        from django.conf import settings

        return list(settings.KNOWLEDGE_URL_ALLOWED_NETWORKS)

    def perform_destroy(self, instance: Document) -> None:
        services.delete(instance)

    @extend_schema(request=None, responses={202: DocumentAcceptedSerializer})
    @action(detail=True, methods=["post"], permission_classes=[ChangeModelPermissions])
    def reindex(self, request: Request, pk: str | None = None) -> Response:
        """Ingest the document again (a URL is fetched again)."""
        document = self.get_object()
        return _queue(document, refetch=True)


class QueryView(APIView):
    """Semantic search: the passages closest in meaning to ``query``."""

    permission_classes = [ReadModelPermissions]
    queryset = Document.objects.none()

    @extend_schema(request=QuerySerializer, responses=QueryResultSerializer)
    def post(self, request: Request) -> Response:
        serializer = QuerySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        results = services.search(
            data["query"],
            limit=data["limit"],
            technology=data.get("technology"),
            category=data["category"],
            collection=data["collection"],
            min_score=data["min_score"],
        )
        return Response({"query": data["query"], "count": len(results), "results": results})


class StatisticsView(APIView):
    """Documents and chunks per status, collection and category."""

    queryset = Document.objects.none()

    @extend_schema(responses=StatisticsSerializer)
    def get(self, request: Request) -> Response:
        return Response(services.statistics())
