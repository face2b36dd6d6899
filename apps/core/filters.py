"""Filters shared by the apps' filtersets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request

TRUE_VALUES = {"true", "1", "yes"}
FALSE_VALUES = {"false", "0", "no"}


class StrictBooleanField(forms.Field):
    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in TRUE_VALUES:
            return True
        if text in FALSE_VALUES:
            return False
        raise forms.ValidationError("Enter true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    """Like BooleanFilter, but ``?flag=maybe`` is a 400 instead of being ignored."""

    field_class = StrictBooleanField


class UTCIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time, sent to the database in UTC.

    Python accepts offsets up to ±23:59, PostgreSQL only ±15:59: ``-18:59`` passed on as
    given was a database error (a 500). A date at the edge of the calendar that UTC cannot
    hold (``0001-01-01T00:00+05:00``) is refused (400)."""

    def to_python(self, value: Any) -> datetime | None:
        parsed: datetime | None = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Enter a date-time that can be expressed in UTC.", code="invalid") from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


class FilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend that builds no FilterSet (form, fields, validation) for a request
    that names none of its filters: the common unfiltered list skips that work."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        names = filterset_class.base_filters
        # Range widgets read suffixed parameters (``<name>_min``, ``<name>_after``...).
        if not any(key in names or key.rsplit("_", 1)[0] in names for key in request.query_params):
            return queryset
        return super().filter_queryset(request, queryset, view)
