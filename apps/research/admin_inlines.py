"""Research tasks shown inline on technologies and repositories."""

from __future__ import annotations

from django.contrib import admin

from apps.research.models import ResearchTask


class ResearchTaskInline(admin.TabularInline[ResearchTask, ResearchTask]):
    model = ResearchTask
    fields = ["title", "status", "assignee", "due_date", "progress"]
    autocomplete_fields = ["assignee"]
    show_change_link = True
    extra = 0
