from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import serializers

from apps.core.api.parsers import JSONField
from apps.core.validators import validate_json_object
from apps.jobs.api.serializers import JobAcceptedSerializer
from apps.jobs.services import job_url
from apps.research.choices import SourceKind
from apps.research.models import ResearchRun, ResearchTask, ResearchTaskAttachment


class AttachmentSerializer(serializers.ModelSerializer[ResearchTaskAttachment]):
    # Uploaded files are not served publicly: ``download`` is an authenticated API link.
    download = serializers.SerializerMethodField()

    class Meta:
        model = ResearchTaskAttachment
        fields = ["id", "name", "file", "size", "download", "created_at"]
        read_only_fields = ["id", "size", "created_at"]
        extra_kwargs = {"name": {"required": False}, "file": {"write_only": True}}

    def get_download(self, obj: ResearchTaskAttachment) -> str:
        return f"/api/v1/research-tasks/{obj.task_id}/attachments/{obj.pk}/"

    def validate_file(self, value: Any) -> Any:
        limit = settings.ATTACHMENT_MAX_UPLOAD_MB * 1024 * 1024
        if value.size > limit:
            raise serializers.ValidationError(f"File too large: the limit is {settings.ATTACHMENT_MAX_UPLOAD_MB} MB.")
        return value


class ResearchTaskSerializer(serializers.ModelSerializer[ResearchTask]):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True), required=False, allow_null=True
    )
    # A method field: a CharField with ``default=None`` was left out of PATCH answers (DRF skips
    # defaults of partial updates) and answered null where the schema said a string.
    assignee_username = serializers.SerializerMethodField()
    is_overdue = serializers.BooleanField(read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    metadata = JSONField(required=False)

    class Meta:
        model = ResearchTask
        fields = [
            "id",
            "title",
            "description",
            "status",
            "technology",
            "repository",
            "assignee",
            "assignee_username",
            "due_date",
            "completed_at",
            "is_overdue",
            "progress",
            "is_recurring",
            "estimated_hours",
            "actual_hours",
            "findings",
            "notes",
            "metadata",
            "attachments",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["completed_at", "created_at", "updated_at"]

    def get_assignee_username(self, obj: ResearchTask) -> str | None:
        return obj.assignee.get_username() if obj.assignee is not None else None

    def validate_metadata(self, value: Any) -> dict[str, Any]:
        return validate_json_object(value)


class ResearchStatisticsSerializer(serializers.Serializer[None]):
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    overdue = serializers.IntegerField()
    due_in_7_days = serializers.IntegerField()


class ResearchRunSourceSerializer(serializers.Serializer[None]):
    kind = serializers.ChoiceField(choices=SourceKind.choices)
    title = serializers.CharField()
    url = serializers.CharField()
    score = serializers.FloatField(allow_null=True, help_text="Similarity of a knowledge-base passage; else null.")


class ResearchRunSerializer(serializers.ModelSerializer[ResearchRun]):
    job_url = serializers.SerializerMethodField()
    sources = ResearchRunSourceSerializer(many=True, read_only=True)

    class Meta:
        model = ResearchRun
        fields = [
            "id",
            "task",
            "job_id",
            "job_url",
            "status",
            "trigger",
            "progress",
            "stage",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
            "duration",
            "summary_method",
            "model",
            "report",
            "sources",
            "error",
        ]
        read_only_fields = fields

    def get_job_url(self, obj: ResearchRun) -> str:
        return job_url(obj.job_id)


class ResearchRunAcceptedSerializer(JobAcceptedSerializer):
    run_id = serializers.IntegerField()
