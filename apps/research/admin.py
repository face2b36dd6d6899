from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from apps.core.exports import ExportAdminMixin
from apps.research import services
from apps.research.choices import ResearchTaskStatus, RunTrigger
from apps.research.models import ResearchRun, ResearchTask, ResearchTaskAttachment
from apps.research.resources import ResearchTaskResource


def job_admin_url(job_id: str) -> str:
    """The job's row in the Background jobs admin (searched by its id)."""
    return f"{reverse('admin:jobs_job_changelist')}?{urlencode({'q': job_id})}"


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


RUN_INLINE_FIELDS = (
    "job",
    "status",
    "trigger",
    "progress",
    "stage",
    "started_at",
    "duration",
    "summary_method",
    "error",
)


class ResearchRunInline(admin.TabularInline[ResearchRun, ResearchTask]):
    model = ResearchRun
    fields = RUN_INLINE_FIELDS
    readonly_fields = RUN_INLINE_FIELDS
    show_change_link = True
    can_delete = False
    extra = 0
    ordering = ["-created_at", "-id"]

    @admin.display(description="job")
    def job(self, obj: ResearchRun) -> str:
        return format_html('<a href="{}">{}</a>', job_admin_url(obj.job_id), obj.job_id[:8])

    def has_add_permission(self, request: HttpRequest, obj: ResearchTask | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _status_action(status: ResearchTaskStatus) -> Any:
    def action(
        modeladmin: admin.ModelAdmin[ResearchTask], request: HttpRequest, queryset: QuerySet[ResearchTask]
    ) -> None:
        count = services.set_status(queryset, status)
        modeladmin.message_user(request, f"{count} task(s) set to {status.label}.", messages.SUCCESS)

    action.__name__ = f"set_status_{status.value}"
    return admin.action(description=f"Set status: {status.label}", permissions=["change"])(action)


@admin.register(ResearchTask)
class ResearchTaskAdmin(ExportAdminMixin, admin.ModelAdmin[ResearchTask]):
    resource_classes = [ResearchTaskResource]
    list_display = ["title", "status", "technology", "repository", "assignee", "due", "progress", "completed_at"]
    list_filter = [
        "status",
        OverdueFilter,
        "is_recurring",
        "technology__domain",
        "assignee",
        "due_date",
        "completed_at",
    ]
    search_fields = ["title", "description", "findings", "notes"]
    autocomplete_fields = ["technology", "repository", "assignee"]
    list_select_related = ["technology", "repository", "assignee"]
    readonly_fields = ["completed_at", "created_at", "updated_at"]
    date_hierarchy = "due_date"
    inlines = [AttachmentInline, ResearchRunInline]
    actions = [
        "run_research",
        "mark_completed",
        *[_status_action(s) for s in ResearchTaskStatus if s != ResearchTaskStatus.COMPLETED],
    ]
    fieldsets = [
        (None, {"fields": ["title", "description", "status", "progress"]}),
        ("Links", {"fields": ["technology", "repository", "assignee"]}),
        ("Schedule", {"fields": ["due_date", "completed_at", "estimated_hours", "actual_hours", "is_recurring"]}),
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

    @admin.action(description="Run research now", permissions=["change"])
    def run_research(self, request: HttpRequest, queryset: QuerySet[ResearchTask]) -> None:
        links = []
        for task in queryset:
            run = services.start_run(task, trigger=RunTrigger.ADMIN, user=request.user)
            links.append(
                (
                    reverse("admin:research_researchrun_change", args=[run.pk]),
                    task.title,
                    job_admin_url(run.job_id),
                    run.job_id[:8],
                )
            )
        self.message_user(
            request,
            format_html(
                "Research run queued for {} task(s): {}",
                len(links),
                format_html_join(", ", '<a href="{}">{}</a> (job <a href="{}">{}</a>)', links),
            ),
            messages.SUCCESS,
        )

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


@admin.register(ResearchRun)
class ResearchRunAdmin(admin.ModelAdmin[ResearchRun]):
    list_display = ["task", "status", "trigger", "progress", "summary_method", "started_at", "duration", "job"]
    list_filter = ["status", "trigger", "summary_method", "created_at"]
    search_fields = ["job_id", "task__title", "report", "error"]
    list_select_related = ["task"]
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ["task", "job", "status", "trigger", "requested_by", "progress", "stage", "attempts"]}),
        ("Timing", {"fields": ["created_at", "started_at", "finished_at", "duration"]}),
        ("Outcome", {"fields": ["summary_method", "model", "error", "sources_list", "report_markdown"]}),
    ]
    readonly_fields = [
        "task",
        "job",
        "status",
        "trigger",
        "requested_by",
        "progress",
        "stage",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
        "summary_method",
        "model",
        "error",
        "sources_list",
        "report_markdown",
    ]

    @admin.display(description="job", ordering="job_id")
    def job(self, obj: ResearchRun) -> str:
        return format_html('<a href="{}">{}</a>', job_admin_url(obj.job_id), obj.job_id)

    @admin.display(description="sources")
    def sources_list(self, obj: ResearchRun) -> str:
        if not obj.sources:
            return "—"
        return format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                '<li>{}: <a href="{}" rel="noopener noreferrer">{}</a>{}</li>',
                (
                    (
                        source.get("kind", ""),
                        source.get("url", ""),
                        source.get("title", ""),
                        f" (score {source['score']:.2f})" if source.get("score") is not None else "",
                    )
                    for source in obj.sources
                ),
            ),
        )

    @admin.display(description="report (Markdown)")
    def report_markdown(self, obj: ResearchRun) -> str:
        if not obj.report:
            return "—"
        return format_html(
            '<pre style="white-space: pre-wrap; max-width: 100ch; font-size: 13px; line-height: 1.45">{}</pre>',
            obj.report,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ResearchRun | None = None) -> bool:
        return False
