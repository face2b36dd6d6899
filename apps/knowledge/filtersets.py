import django_filters

from apps.knowledge.choices import DocumentStatus, SourceType
from apps.knowledge.models import Document


class DocumentFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=DocumentStatus.choices)
    source_type = django_filters.MultipleChoiceFilter(choices=SourceType.choices)
    ordering = django_filters.OrderingFilter(fields=["created_at", "title", "chunk_count", "indexed_at"])

    class Meta:
        model = Document
        fields = ["status", "source_type", "collection", "category", "technology", "research_task"]
