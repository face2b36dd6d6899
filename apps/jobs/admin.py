from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from apps.jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    list_display = ["short_name", "task_id", "state", "retries", "queued_at", "started_at", "duration", "worker"]
    list_filter = ["state", "name", "queued_at"]
    search_fields = ["task_id", "name", "error"]
    date_hierarchy = "queued_at"
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False
