from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from apps.research import services
from apps.research.choices import ResearchTaskStatus
from apps.research.models import ResearchTask, ResearchTaskAttachment


class OverdueFilter(admin.SimpleListFilter):
    title = "deadline"
    parameter_name = "deadline"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("overdue", "Overdue"), ("week", "Due within 7 days"), ("none", "No due date")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "overdue":
            return queryset.filter(pk__in=ResearchTask.objects.overdue().values("pk"))
        if self.value() == "week":
            return queryset.filter(pk__in=ResearchTask.objects.due_within(7).values("pk"))
        if self.value() == "none":
            return queryset.filter(due_date__isnull=True)
        return queryset


class AttachmentInline(admin.TabularInline[ResearchTaskAttachment, ResearchTask]):
    model = ResearchTaskAttachment
    fields = ["file", "name", "size", "uploaded_by", "created_at"]
    readonly_fields = ["size", "uploaded_by", "created_at"]
    extra = 0


def _status_action(status: ResearchTaskStatus) -> Any:
    def action(
        modeladmin: admin.ModelAdmin[ResearchTask], request: HttpRequest, queryset: QuerySet[ResearchTask]
    ) -> None:
        count = services.set_status(queryset, status)
        modeladmin.message_user(request, f"{count} task(s) set to {status.label}.", messages.SUCCESS)

    action.__name__ = f"set_status_{status.value}"
    return admin.action(description=f"Set status: {status.label}", permissions=["change"])(action)


@admin.register(ResearchTask)
class ResearchTaskAdmin(admin.ModelAdmin[ResearchTask]):
    list_display = ["title", "status", "technology", "repository", "assignee", "due", "progress", "completed_at"]
    list_filter = ["status", OverdueFilter, "technology__domain", "assignee", "due_date", "completed_at"]
    search_fields = ["title", "description", "findings", "notes"]
    autocomplete_fields = ["technology", "repository", "assignee"]
    list_select_related = ["technology", "repository", "assignee"]
    readonly_fields = ["completed_at", "created_at", "updated_at"]
    date_hierarchy = "due_date"
    inlines = [AttachmentInline]
    actions = [
        "mark_completed",
        *[_status_action(s) for s in ResearchTaskStatus if s != ResearchTaskStatus.COMPLETED],
    ]
    fieldsets = [
        (None, {"fields": ["title", "description", "status", "progress"]}),
        ("Links", {"fields": ["technology", "repository", "assignee"]}),
        ("Schedule", {"fields": ["due_date", "completed_at", "estimated_hours", "actual_hours"]}),
        ("Outcome", {"fields": ["findings", "notes", "metadata"]}),
        ("Timestamps", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    @admin.display(description="due", ordering="due_date")
    def due(self, obj: ResearchTask) -> str:
        if obj.due_date is None:
            return "—"
        if obj.is_overdue:
            days = (timezone.localdate() - obj.due_date).days
            return format_html(
                '<strong style="color:#ba2121" title="overdue by {} day(s)">{} ⚠ overdue</strong>', days, obj.due_date
            )
        return str(obj.due_date)

    @admin.action(description="Mark completed", permissions=["change"])
    def mark_completed(self, request: HttpRequest, queryset: QuerySet[ResearchTask]) -> None:
        count = services.set_status(queryset, ResearchTaskStatus.COMPLETED)
        self.message_user(request, f"{count} task(s) marked completed.", messages.SUCCESS)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, ResearchTaskAttachment) and instance.uploaded_by_id is None:
                instance.uploaded_by_id = request.user.pk
            instance.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()
