from rest_framework import serializers

from apps.backups.models import BackupRun


class BackupRunSerializer(serializers.ModelSerializer[BackupRun]):
    class Meta:
        model = BackupRun
        fields = [
            "timestamp",
            "trigger",
            "status",
            "components",
            "started_at",
            "finished_at",
            "duration",
            "size_bytes",
            "error",
            "verification",
            "verified_at",
        ]
        read_only_fields = fields
