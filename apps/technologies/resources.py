"""Technologies as rows of a CSV (or JSON) file: the admin's export and import.

An import goes through the model's validation (``full_clean``: choices, ranges, URLs,
unique titles) and, once confirmed, through ``services.save_technology`` like every other
write, so it is logged and counted in the metrics. Rows are matched on ``title``.
"""

from __future__ import annotations

from typing import Any

from import_export import fields, resources, widgets

from apps.technologies import services
from apps.technologies.models import Tag, Technology

COLUMNS = (
    "title",
    "vendor",
    "domain",
    "status",
    "ring",
    "relevance_score",
    "priority",
    "description",
    "use_cases",
    "notes",
    "documentation_url",
    "repository_url",
    "website_url",
    "tags",
)


class TagsWidget(widgets.ManyToManyWidget):
    """Tags as comma-separated names; a new name becomes a new tag (as through the API)."""

    def __init__(self) -> None:
        super().__init__(Tag, separator=",", field="name")

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> list[Tag]:
        if not value:
            return []
        return services.tags_for(str(value).split(self.separator))

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return ", ".join(tag.name for tag in value.all()) if value is not None else ""


class TechnologyResource(resources.ModelResource):
    tags = fields.Field(attribute="tags", column_name="tags", widget=TagsWidget())

    class Meta:
        model = Technology
        fields = COLUMNS
        export_order = COLUMNS
        import_id_fields = ("title",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True

    def get_queryset(self) -> Any:
        return super().get_queryset().prefetch_related("tags")

    def save_instance(self, instance: Technology, is_create: bool, row: Any, **kwargs: Any) -> None:
        if self._is_dry_run(kwargs):
            # The preview: saved inside its transaction, then rolled back; not a write.
            super().save_instance(instance, is_create, row, **kwargs)
            return
        self.before_save_instance(instance, row, **kwargs)
        services.save_technology(instance, created=is_create)
        self.after_save_instance(instance, row, **kwargs)
