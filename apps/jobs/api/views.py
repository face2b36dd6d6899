from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.permissions import IsStaff
from apps.jobs import services, tasks
from apps.jobs.api.serializers import JobAcceptedSerializer, JobSerializer
from apps.jobs.filtersets import JobFilterSet
from apps.jobs.models import Job


class JobViewSet(viewsets.ReadOnlyModelViewSet[Job]):
    """Background jobs: state, arguments, timestamps, duration, result or error."""

    queryset = Job.objects.all()
    serializer_class = JobSerializer
    filterset_class = JobFilterSet
    lookup_field = "task_id"
    lookup_value_regex = "[^/]+"
    search_fields = ["name", "task_id"]

    @extend_schema(request=None, responses={202: JobAcceptedSerializer})
    @action(detail=False, methods=["post"], permission_classes=[IsStaff])
    def ping(self, request: Request) -> Response:
        """Queue a no-op job: a synthetic check that workers consume the queue."""
        return services.accepted(tasks.ping.delay())
