from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.backups import tasks
from apps.backups.choices import Trigger
from apps.backups.models import BackupRun
from apps.jobs.services import job_url


@admin.register(BackupRun)
class BackupRunAdmin(admin.ModelAdmin[BackupRun]):
    list_display = ["timestamp", "status", "trigger", "age", "size", "duration", "verification", "verified_at"]
    list_filter = ["status", "trigger", "verification"]
    search_fields = ["timestamp", "error"]
    readonly_fields = [f.name for f in BackupRun._meta.fields]
    actions = ["verify"]
    change_list_template = "admin/backups/backuprun/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {"can_back_up": self.has_change_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def get_urls(self) -> list[URLPattern]:
        own = [path("backup-now/", self.admin_site.admin_view(self.backup_now), name="backups_backuprun_backup_now")]
        return own + super().get_urls()

    @admin.display(description="age")
    def age(self, obj: BackupRun) -> str:
        hours = (timezone.now() - obj.started_at).total_seconds() / 3600
        colour = "#2e7d32" if hours <= 26 else "#ba2121"
        return format_html('<span style="color:{}">{} h</span>', colour, f"{hours:.0f}")

    @admin.display(description="size", ordering="size_bytes")
    def size(self, obj: BackupRun) -> str:
        return f"{obj.size_bytes / 1e6:.1f} MB"

    def backup_now(self, request: HttpRequest) -> HttpResponseRedirect | HttpResponseNotAllowed:
        """POST (the button above the list, or on the dashboard): queue a backup in a worker."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        result = tasks.run_backup.delay(Trigger.API)
        self.message_user(
            request,
            format_html('Backup queued (<a href="{}">job status</a>).', job_url(str(result.id))),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:backups_backuprun_changelist"))

    @admin.action(description="Verify (restore drill)", permissions=["change"])
    def verify(self, request: HttpRequest, queryset: object) -> None:
        for run in queryset:  # type: ignore[attr-defined]
            result = tasks.verify_latest.delay(run.timestamp)
            self.message_user(
                request,
                format_html('Verifying {}: <a href="{}">job status</a>', run.timestamp, job_url(str(result.id))),
                messages.SUCCESS,
            )
