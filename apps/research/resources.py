"""Research tasks as rows of an exported CSV or JSON file; related objects by name."""

from __future__ import annotations

from import_export import fields, resources, widgets

from apps.repositories.models import Repository
from apps.research.models import ResearchTask
from apps.technologies.models import Technology

COLUMNS = (
    "id",
    "title",
    "status",
    "technology",
    "repository",
    "assignee",
    "due_date",
    "progress",
    "completed_at",
    "estimated_hours",
    "actual_hours",
    "is_recurring",
    "description",
    "findings",
    "notes",
    "created_at",
    "updated_at",
)


class ResearchTaskResource(resources.ModelResource):
    technology = fields.Field(
        attribute="technology", column_name="technology", widget=widgets.ForeignKeyWidget(Technology, "title")
    )
    repository = fields.Field(
        attribute="repository", column_name="repository", widget=widgets.ForeignKeyWidget(Repository, "full_name")
    )
    assignee = fields.Field(attribute="assignee__username", column_name="assignee")

    class Meta:
        model = ResearchTask
        fields = COLUMNS
        export_order = COLUMNS
