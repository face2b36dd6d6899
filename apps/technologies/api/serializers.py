from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.repositories.models import Repository
from apps.technologies import services
from apps.technologies.models import Technology


class TagListField(serializers.ListField):
    child = serializers.CharField(max_length=50, allow_blank=False)

    def to_representation(self, data: Any) -> list[str]:
        # ``data`` is the prefetched related manager: names in the prefetch's order.
        return [tag.name for tag in data.all()]


class TechnologySerializer(serializers.ModelSerializer[Technology]):
    tags = TagListField(required=False, max_length=50)
    repositories = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Repository.objects.all())

    class Meta:
        model = Technology
        fields = [
            "id",
            "title",
            "slug",
            "vendor",
            "domain",
            "status",
            "ring",
            "relevance_score",
            "priority",
            "description",
            "notes",
            "use_cases",
            "documentation_url",
            "repository_url",
            "website_url",
            "tags",
            "repositories",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"slug": {"required": False}}

    def create(self, validated_data: dict[str, Any]) -> Technology:
        return services.create_technology(validated_data)

    def update(self, instance: Technology, validated_data: dict[str, Any]) -> Technology:
        return services.update_technology(instance, validated_data)


class RadarEntrySerializer(serializers.Serializer[None]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    slug = serializers.CharField()
    status = serializers.CharField()
    relevance_score = serializers.IntegerField()
    priority = serializers.IntegerField()


class RadarRingsSerializer(serializers.Serializer[None]):
    adopt = RadarEntrySerializer(many=True)
    trial = RadarEntrySerializer(many=True)
    assess = RadarEntrySerializer(many=True)
    hold = RadarEntrySerializer(many=True)
    unplaced = RadarEntrySerializer(many=True)


class RadarDomainSerializer(serializers.Serializer[None]):
    domain = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named "label"
    count = serializers.IntegerField()
    rings = RadarRingsSerializer()
