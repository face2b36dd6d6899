from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.repositories import services
from apps.repositories.models import Repository
from apps.research.admin_inlines import ResearchTaskInline


class RepositoryAdminForm(forms.ModelForm[Repository]):
    # The stored token is never rendered back into the page.
    access_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted. Leave empty to keep the current token.",
    )
    clear_access_token = forms.BooleanField(required=False, help_text="Remove the stored token.")

    class Meta:
        model = Repository
        fields = [
            "owner",
            "name",
            "description",
            "url",
            "clone_url",
            "default_branch",
            "is_private",
            "language",
            "stars",
            "forks",
            "open_issues",
            "topics",
            "last_commit_sha",
            "last_commit_message",
            "last_commit_author",
            "last_commit_date",
            "access_token",
            "metadata",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("clear_access_token"):
            cleaned["access_token"] = ""
        elif not cleaned.get("access_token") and self.instance.pk:
            cleaned["access_token"] = self.instance.access_token
        return cleaned


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin[Repository]):
    form = RepositoryAdminForm
    list_display = [
        "full_name",
        "language",
        "stars",
        "forks",
        "open_issues",
        "is_private",
        "sync_status",
        "last_synced_at",
    ]
    list_filter = ["sync_status", "is_private", "language", "owner"]
    search_fields = ["full_name", "description", "language"]
    readonly_fields = ["full_name", "last_synced_at", "sync_status", "sync_error", "created_at", "updated_at"]
    inlines = [ResearchTaskInline]
    fieldsets = [
        (None, {"fields": ["owner", "name", "full_name", "description", "url", "clone_url", "default_branch"]}),
        ("GitHub", {"fields": ["is_private", "language", "stars", "forks", "open_issues", "topics"]}),
        (
            "Last commit",
            {"fields": ["last_commit_sha", "last_commit_message", "last_commit_author", "last_commit_date"]},
        ),
        ("Sync", {"fields": ["sync_status", "last_synced_at", "sync_error", "access_token", "clear_access_token"]}),
        ("Other", {"fields": ["metadata", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def save_model(self, request: HttpRequest, obj: Repository, form: Any, change: bool) -> None:
        services.save_repository(obj, created=not change)

    def delete_model(self, request: HttpRequest, obj: Repository) -> None:
        services.delete_repository(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Repository]) -> None:
        for repository in queryset:
            services.delete_repository(repository)
