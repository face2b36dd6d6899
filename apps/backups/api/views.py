from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.backups import tasks
from apps.backups.api.serializers import BackupRunSerializer
from apps.backups.choices import Trigger
from apps.backups.models import BackupRun
from apps.core.permissions import IsStaff
from apps.jobs.api.serializers import JobAcceptedSerializer
from apps.jobs.services import accepted


class BackupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[BackupRun]):
    """Backup runs (staff only). POST starts a backup: 202 with the job."""

    queryset = BackupRun.objects.all()
    serializer_class = BackupRunSerializer
    permission_classes = [IsStaff]
    lookup_field = "timestamp"
    lookup_value_regex = r"[0-9]{8}_[0-9]{6}"
    filterset_fields = ["status", "trigger", "verification"]

    @extend_schema(request=None, responses={202: JobAcceptedSerializer})
    def create(self, request: Request) -> Response:
        return accepted(tasks.run_backup.delay(Trigger.API))
