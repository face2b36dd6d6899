from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, QuerySet

from apps.technologies.choices import RadarRing, TechnologyDomain, TechnologyStatus
from apps.technologies.models import Technology


class TechnologyFilterSet(django_filters.FilterSet):
    domain = django_filters.MultipleChoiceFilter(choices=TechnologyDomain.choices)
    status = django_filters.MultipleChoiceFilter(choices=TechnologyStatus.choices)
    ring = django_filters.MultipleChoiceFilter(choices=RadarRing.choices)
    priority = django_filters.NumberFilter()
    vendor = django_filters.CharFilter(lookup_expr="iexact")
    relevance_min = django_filters.NumberFilter(field_name="relevance_score", lookup_expr="gte")
    relevance_max = django_filters.NumberFilter(field_name="relevance_score", lookup_expr="lte")
    tags = django_filters.CharFilter(method="filter_tags", help_text="Comma-separated; any of them matches.")
    repository = django_filters.NumberFilter(field_name="repositories", help_text="Repository id.")
    ordering = django_filters.OrderingFilter(
        fields=["title", "relevance_score", "priority", "status", "ring", "domain", "created_at", "updated_at"]
    )

    class Meta:
        model = Technology
        fields = ["domain", "status", "ring", "priority", "vendor"]

    def filter_tags(self, queryset: QuerySet[Technology], name: str, value: str) -> QuerySet[Technology]:
        names = [n.strip().lower() for n in value.split(",") if n.strip()]
        if not names:
            return queryset
        # EXISTS rather than a join: no duplicate rows, no DISTINCT over the whole page.
        through = Technology.tags.through
        return queryset.filter(Exists(through.objects.filter(technology_id=OuterRef("pk"), tag__name__in=names)))
