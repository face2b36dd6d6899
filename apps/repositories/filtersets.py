import django_filters

from apps.core.filters import IsoDateTimeFilter, StrictBooleanFilter
from apps.repositories.choices import SyncStatus
from apps.repositories.models import Repository


class RepositoryFilterSet(django_filters.FilterSet):
    owner = django_filters.CharFilter(lookup_expr="iexact")
    is_private = StrictBooleanFilter()
    language = django_filters.CharFilter(lookup_expr="iexact")
    sync_status = django_filters.MultipleChoiceFilter(choices=SyncStatus.choices)
    stars_min = django_filters.NumberFilter(field_name="stars", lookup_expr="gte")
    synced_before = IsoDateTimeFilter(field_name="last_synced_at", lookup_expr="lt")
    ordering = django_filters.OrderingFilter(
        fields=["full_name", "stars", "forks", "open_issues", "last_synced_at", "created_at", "updated_at"]
    )

    class Meta:
        model = Repository
        fields = ["owner", "language", "is_private", "sync_status"]
