from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from apps.core.api.parsers import JSONField
from apps.core.validators import validate_json_object
from apps.jobs.api.serializers import JobAcceptedSerializer
from apps.repositories import services
from apps.repositories.models import Repository
from apps.repositories.validators import split_full_name


class RepositorySerializer(serializers.ModelSerializer[Repository]):
    """``full_name`` may be given instead of ``owner`` + ``name``. ``access_token`` is
    write-only: it is stored encrypted and never returned (``has_access_token`` tells)."""

    full_name = serializers.CharField(max_length=140, required=False)
    access_token = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=500, style={"input_type": "password"}
    )
    has_access_token = serializers.BooleanField(read_only=True)
    topics = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=50)
    metadata = JSONField(required=False)

    class Meta:
        model = Repository
        fields = [
            "id",
            "owner",
            "name",
            "full_name",
            "url",
            "clone_url",
            "default_branch",
            "description",
            "is_private",
            "language",
            "stars",
            "forks",
            "open_issues",
            "topics",
            "last_commit_sha",
            "last_commit_message",
            "last_commit_author",
            "last_commit_date",
            "latest_release_tag",
            "latest_release_name",
            "latest_release_date",
            "latest_release_url",
            "github_id",
            "last_synced_at",
            "sync_status",
            "sync_error",
            "metadata",
            "access_token",
            "has_access_token",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "latest_release_tag",
            "latest_release_name",
            "latest_release_date",
            "latest_release_url",
            "github_id",
            "last_synced_at",
            "sync_status",
            "sync_error",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"owner": {"required": False}, "name": {"required": False}}

    def validate_metadata(self, value: Any) -> dict[str, Any]:
        return validate_json_object(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        full_name = attrs.pop("full_name", None)
        if full_name is not None:
            try:
                owner, name = split_full_name(full_name)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"full_name": exc.messages}) from None
            attrs["owner"], attrs["name"] = owner, name
        if self.instance is None:
            missing = {
                f: ["This field is required (or give full_name)."] for f in ("owner", "name") if not attrs.get(f)
            }
            if missing:
                raise serializers.ValidationError(missing)
        owner = attrs.get("owner", getattr(self.instance, "owner", ""))
        name = attrs.get("name", getattr(self.instance, "name", ""))
        clash = Repository.objects.filter(full_name=f"{owner}/{name}")
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError({"full_name": [f"Repository {owner}/{name} already exists."]})
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Repository:
        return services.create_repository(validated_data)

    def update(self, instance: Repository, validated_data: dict[str, Any]) -> Repository:
        return services.update_repository(instance, validated_data)


class RepositoryBriefSerializer(serializers.ModelSerializer[Repository]):
    class Meta:
        model = Repository
        fields = ["id", "full_name", "url"]
        read_only_fields = fields


class RepositoryFromUrlSerializer(serializers.Serializer[None]):
    url = serializers.CharField(max_length=500, help_text="https://github.com/owner/name")


class RepositoryFromUrlResultSerializer(serializers.Serializer[None]):
    repository = RepositorySerializer()
    created = serializers.BooleanField()
    job = JobAcceptedSerializer(help_text="The sync job (DESIGN: the 202 job body).")
