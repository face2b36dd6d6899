from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from apps.core.exports import ImportExportAdminMixin
from apps.research.admin_inlines import ResearchTaskInline
from apps.technologies import services
from apps.technologies.choices import RadarRing, TechnologyStatus
from apps.technologies.models import Tag, Technology
from apps.technologies.resources import TechnologyResource


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin[Tag]):
    list_display = ["name", "technology_count"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        return super().get_queryset(request).annotate(n_technologies=Count("technologies"))

    @admin.display(description="technologies", ordering="n_technologies")
    def technology_count(self, obj: Tag) -> int:
        return getattr(obj, "n_technologies", 0)


def _set_field_action(field: str, value: str, label: str) -> Any:
    def action(modeladmin: admin.ModelAdmin[Technology], request: HttpRequest, queryset: QuerySet[Technology]) -> None:
        count = queryset.update(**{field: value})
        modeladmin.message_user(request, f"{count} technolog(ies) updated: {label}.", messages.SUCCESS)

    action.__name__ = f"set_{field}_{value}"
    return admin.action(description=label, permissions=["change"])(action)


@admin.register(Technology)
class TechnologyAdmin(ImportExportAdminMixin, admin.ModelAdmin[Technology]):
    list_display = ["title", "vendor", "domain", "status", "ring", "relevance_score", "priority", "tag_list"]
    list_filter = ["domain", "status", "ring", "priority", "tags"]
    search_fields = ["title", "vendor", "description", "tags__name"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["tags", "repositories"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ResearchTaskInline]
    resource_classes = [TechnologyResource]
    # Import, Export and a link to the radar above the list.
    import_export_change_list_template = "admin/technologies/technology/change_list.html"
    actions = [
        *[_set_field_action("status", s.value, f"Set status: {s.label}") for s in TechnologyStatus],
        *[_set_field_action("ring", r.value, f"Move to ring: {r.label}") for r in RadarRing],
    ]
    fieldsets = [
        (None, {"fields": ["title", "slug", "vendor", "domain", "tags"]}),
        ("Radar", {"fields": ["status", "ring", "relevance_score", "priority"]}),
        ("Details", {"fields": ["description", "use_cases", "notes"]}),
        ("Links", {"fields": ["documentation_url", "repository_url", "website_url", "repositories"]}),
        ("Timestamps", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Technology]:
        return super().get_queryset(request).prefetch_related("tags")

    @admin.display(description="tags")
    def tag_list(self, obj: Technology) -> str:
        return ", ".join(t.name for t in obj.tags.all())

    def save_model(self, request: HttpRequest, obj: Technology, form: Any, change: bool) -> None:
        services.save_technology(obj, created=not change)

    def delete_model(self, request: HttpRequest, obj: Technology) -> None:
        services.delete_technology(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Technology]) -> None:
        for technology in queryset:
            services.delete_technology(technology)
