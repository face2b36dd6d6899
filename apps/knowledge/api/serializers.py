from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.knowledge.models import Document
from apps.research.models import ResearchTask
from apps.technologies.models import Technology


class DocumentSerializer(serializers.ModelSerializer[Document]):
    # Stored files are not served publicly: the API names them, it does not link them.
    file = serializers.CharField(source="file.name", read_only=True, default="")

    class Meta:
        model = Document
        fields = [
            "id",
            "title",
            "source_type",
            "source_url",
            "file",
            "content_type",
            "size",
            "content_sha256",
            "technology",
            "research_task",
            "category",
            "collection",
            "status",
            "error",
            "chunk_count",
            "embedding_model",
            "indexed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class DocumentCreateSerializer(serializers.Serializer[None]):
    """Either a multipart ``file`` or a ``url``."""

    file = serializers.FileField(required=False, allow_empty_file=False)
    url = serializers.URLField(required=False, max_length=2000)
    title = serializers.CharField(required=False, allow_blank=True, max_length=300)
    collection = serializers.RegexField(r"^[A-Za-z0-9._-]{1,100}$", required=False, default="default")
    category = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    technology = serializers.PrimaryKeyRelatedField(queryset=Technology.objects.all(), required=False, allow_null=True)
    research_task = serializers.PrimaryKeyRelatedField(
        queryset=ResearchTask.objects.all(), required=False, allow_null=True
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("file")) == bool(attrs.get("url")):
            raise serializers.ValidationError({"non_field_errors": ["Give either a file or a url."]})
        return attrs


class QuerySerializer(serializers.Serializer[None]):
    query = serializers.CharField(max_length=2000, trim_whitespace=True)
    limit = serializers.IntegerField(min_value=1, max_value=50, default=5)
    technology = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    category = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    collection = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    min_score = serializers.FloatField(required=False, min_value=-1.0, max_value=1.0, default=0.0)


class PassageSerializer(serializers.Serializer[None]):
    document_id = serializers.IntegerField()
    title = serializers.CharField()
    chunk = serializers.CharField()
    heading = serializers.CharField()
    chunk_index = serializers.IntegerField()
    score = serializers.FloatField()


class QueryResultSerializer(serializers.Serializer[None]):
    query = serializers.CharField()
    count = serializers.IntegerField()
    results = PassageSerializer(many=True)


class GroupCountSerializer(serializers.Serializer[None]):
    documents = serializers.IntegerField()
    chunks = serializers.IntegerField()


class StatisticsSerializer(serializers.Serializer[None]):
    documents = serializers.IntegerField()
    chunks = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_collection = serializers.ListField(child=serializers.DictField())
    by_category = serializers.ListField(child=serializers.DictField())
    embedding_model = serializers.CharField()


class DocumentAcceptedSerializer(serializers.Serializer[None]):
    job_id = serializers.CharField()
    status = serializers.CharField()
    url = serializers.CharField()
    document_id = serializers.IntegerField()
