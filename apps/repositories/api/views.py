from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.permissions import ChangeModelPermissions
from apps.jobs.api.serializers import JobAcceptedSerializer
from apps.jobs.services import accepted
from apps.repositories import services, sync, tasks
from apps.repositories.api.serializers import (
    RepositoryFromUrlResultSerializer,
    RepositoryFromUrlSerializer,
    RepositorySerializer,
)
from apps.repositories.filtersets import RepositoryFilterSet
from apps.repositories.models import Repository


class RepositoryViewSet(viewsets.ModelViewSet[Repository]):
    queryset = Repository.objects.all()
    serializer_class = RepositorySerializer
    filterset_class = RepositoryFilterSet
    search_fields = ["full_name", "description", "language"]

    def perform_destroy(self, instance: Repository) -> None:
        services.delete_repository(instance)

    @extend_schema(request=None, responses={202: JobAcceptedSerializer})
    @action(detail=True, methods=["post"], permission_classes=[ChangeModelPermissions])
    def sync(self, request: Request, pk: str | None = None) -> Response:
        """Sync the repository with GitHub now (bypassing the answer cache)."""
        repository = self.get_object()
        services.mark_sync_queued(repository)
        return accepted(tasks.sync_repository.delay(repository.pk, force=True))

    @extend_schema(
        request=RepositoryFromUrlSerializer,
        responses={201: RepositoryFromUrlResultSerializer, 200: RepositoryFromUrlResultSerializer},
    )
    @action(detail=False, methods=["post"], url_path="from-url")
    def from_url(self, request: Request) -> Response:
        """Track the repository of a GitHub URL (``https://github.com/owner/name``) and sync it.
        201 when created; 200 with the existing one (synced again) when it is already tracked."""
        serializer = RepositoryFromUrlSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            repository, created = sync.add_from_url(serializer.validated_data["url"])
        except DjangoValidationError as exc:
            raise ValidationError({"url": exc.messages}) from None
        services.mark_sync_queued(repository)
        job = accepted(tasks.sync_repository.delay(repository.pk, force=True)).data
        body: dict[str, Any] = {
            "repository": RepositorySerializer(repository, context={"request": request}).data,
            "created": created,
            "job": job,
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
