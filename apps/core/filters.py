"""Filters shared by the apps' filtersets."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms

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
