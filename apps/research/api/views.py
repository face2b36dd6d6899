from __future__ import annotations

from django.db.models import QuerySet
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.permissions import ChangeModelPermissions
from apps.jobs.services import accepted
from apps.research import services
from apps.research.api.serializers import (
    AttachmentSerializer,
    ResearchRunAcceptedSerializer,
    ResearchRunSerializer,
    ResearchStatisticsSerializer,
    ResearchTaskSerializer,
)
from apps.research.choices import RunTrigger
from apps.research.filtersets import ResearchTaskFilterSet
from apps.research.models import ResearchRun, ResearchTask, ResearchTaskAttachment


class ResearchTaskViewSet(viewsets.ModelViewSet[ResearchTask]):
    queryset = ResearchTask.objects.select_related("assignee").prefetch_related("attachments")
    serializer_class = ResearchTaskSerializer
    filterset_class = ResearchTaskFilterSet
    search_fields = ["title", "description", "findings", "notes"]

    @extend_schema(responses=ResearchStatisticsSerializer)
    @action(detail=False, methods=["get"], pagination_class=None)
    def statistics(self, request: Request) -> Response:
        """Counts per status, overdue and due within 7 days (filters apply)."""
        tasks: QuerySet[ResearchTask] = self.filter_queryset(ResearchTask.objects.all())
        return Response(services.statistics(tasks))

    @extend_schema(request={"multipart/form-data": AttachmentSerializer}, responses={201: AttachmentSerializer})
    @action(
        detail=True,
        methods=["post"],
        parser_classes=[MultiPartParser, FormParser],
        permission_classes=[ChangeModelPermissions],
        serializer_class=AttachmentSerializer,
    )
    def attachments(self, request: Request, pk: str | None = None) -> Response:
        """Attach a file to the task."""
        task = self.get_object()
        serializer = AttachmentSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        serializer.save(task=task, uploaded_by=request.user)
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    # The file's own media type (guessed from its name), as uploaded.
    @extend_schema(responses={(200, "*/*"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>[0-9]+)")
    def download_attachment(self, request: Request, pk: str | None = None, attachment_id: str = "") -> FileResponse:
        """Download an attachment of the task."""
        task = self.get_object()
        attachment = get_object_or_404(ResearchTaskAttachment, task=task, pk=attachment_id)
        return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name)

    @extend_schema(request=None, responses={202: ResearchRunAcceptedSerializer})
    @action(detail=True, methods=["post"], permission_classes=[ChangeModelPermissions])
    def run(self, request: Request, pk: str | None = None) -> Response:
        """Start a research run of the task: evidence gathered, a report written (202, a job)."""
        task = self.get_object()
        research_run = services.start_run(task, trigger=RunTrigger.API, user=request.user)
        response = accepted(research_run.job_id)
        response.data["run_id"] = research_run.pk
        return response

    @extend_schema(responses=ResearchRunSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], serializer_class=ResearchRunSerializer, filterset_class=None)
    def runs(self, request: Request, pk: str | None = None) -> Response:
        """The task's research runs, newest first, with their reports and sources."""
        task = self.get_object()
        paginator = self.paginator
        assert paginator is not None  # DEFAULT_PAGINATION_CLASS is set
        page = paginator.paginate_queryset(
            ResearchRun.objects.filter(task=task).order_by("-created_at", "-id"), request, view=self
        )
        serializer = ResearchRunSerializer(page, many=True, context=self.get_serializer_context())
        return paginator.get_paginated_response(serializer.data)
