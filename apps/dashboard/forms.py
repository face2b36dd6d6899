from __future__ import annotations

from typing import Any

from django import forms

from apps.technologies.choices import TechnologyStatus
from apps.technologies.models import Tag


class RadarFilterForm(forms.Form):
    """The radar page's filters; the names are the API's (``?tags=...&status=...``)."""

    tags = forms.ChoiceField(label="Tag", required=False)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "All statuses"), *TechnologyStatus.choices]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = Tag.objects.order_by("name").values_list("name", flat=True)
        self.fields["tags"].choices = [("", "All tags"), *((name, name) for name in names)]  # type: ignore[attr-defined]
