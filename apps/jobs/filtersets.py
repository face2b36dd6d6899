import django_filters

from apps.core.filters import IsoDateTimeFilter
from apps.jobs.choices import JobState
from apps.jobs.models import Job


class JobFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=JobState.choices)
    name = django_filters.CharFilter(lookup_expr="icontains")
    queued_after = IsoDateTimeFilter(field_name="queued_at", lookup_expr="gte")
    queued_before = IsoDateTimeFilter(field_name="queued_at", lookup_expr="lt")

    class Meta:
        model = Job
        fields = ["state", "name"]
