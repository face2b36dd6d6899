from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from apps.backups import tasks
from apps.backups.models import BackupRun
from apps.jobs.services import job_url


@admin.register(BackupRun)
class BackupRunAdmin(admin.ModelAdmin[BackupRun]):
    list_display = ["timestamp", "status", "trigger", "age", "size", "duration", "verification", "verified_at"]
    list_filter = ["status", "trigger", "verification"]
    search_fields = ["timestamp", "error"]
    readonly_fields = [f.name for f in BackupRun._meta.fields]
    actions = ["verify"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="age")
    def age(self, obj: BackupRun) -> str:
        hours = (timezone.now() - obj.started_at).total_seconds() / 3600
        colour = "#2e7d32" if hours <= 26 else "#ba2121"
        return format_html('<span style="color:{}">{} h</span>', colour, f"{hours:.0f}")

    @admin.display(description="size", ordering="size_bytes")
    def size(self, obj: BackupRun) -> str:
        return f"{obj.size_bytes / 1e6:.1f} MB"

    @admin.action(description="Verify (restore drill)", permissions=["change"])
    def verify(self, request: HttpRequest, queryset: object) -> None:
        for run in queryset:  # type: ignore[attr-defined]
            result = tasks.verify_latest.delay(run.timestamp)
            self.message_user(
                request,
                format_html('Verifying {}: <a href="{}">job</a>', run.timestamp, job_url(str(result.id))),
                messages.SUCCESS,
            )
