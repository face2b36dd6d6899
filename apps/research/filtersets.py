from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from apps.core.filters import StrictBooleanFilter
from apps.research.choices import ResearchTaskStatus
from apps.research.models import ResearchTask


class ResearchTaskFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ResearchTaskStatus.choices)
    assignee = django_filters.ModelChoiceFilter(queryset=get_user_model().objects.all())
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lt")
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    overdue = StrictBooleanFilter(method="filter_overdue")
    is_recurring = StrictBooleanFilter()
    ordering = django_filters.OrderingFilter(
        fields=["due_date", "status", "progress", "title", "created_at", "updated_at", "completed_at"]
    )

    class Meta:
        model = ResearchTask
        fields = ["status", "technology", "repository", "assignee", "is_recurring"]

    def filter_overdue(self, queryset: QuerySet[ResearchTask], name: str, value: bool | None) -> QuerySet[ResearchTask]:
        if value is None:
            return queryset
        overdue = ResearchTask.objects.overdue().values("pk")
        return queryset.filter(pk__in=overdue) if value else queryset.exclude(pk__in=overdue)
