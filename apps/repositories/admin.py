from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from apps.core.exports import ExportAdminMixin
from apps.jobs.services import job_url
from apps.repositories import github, services, sync, tasks
from apps.repositories.models import Repository, WebhookDelivery
from apps.repositories.resources import RepositoryResource
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
class RepositoryAdmin(ExportAdminMixin, admin.ModelAdmin[Repository]):
    form = RepositoryAdminForm
    resource_classes = [RepositoryResource]
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
    readonly_fields = [
        "full_name",
        "latest_release_tag",
        "latest_release_name",
        "latest_release_date",
        "latest_release_url",
        "github_id",
        "last_synced_at",
        "sync_status",
        "sync_error",
        "created_at",
        "updated_at",
    ]
    inlines = [ResearchTaskInline]
    actions = ["sync_now"]
    change_list_template = "admin/repositories/repository/change_list.html"
    fieldsets = [
        (None, {"fields": ["owner", "name", "full_name", "description", "url", "clone_url", "default_branch"]}),
        ("GitHub", {"fields": ["is_private", "language", "stars", "forks", "open_issues", "topics"]}),
        (
            "Last commit",
            {"fields": ["last_commit_sha", "last_commit_message", "last_commit_author", "last_commit_date"]},
        ),
        (
            "Latest release",
            {"fields": ["latest_release_tag", "latest_release_name", "latest_release_date", "latest_release_url"]},
        ),
        (
            "Sync",
            {
                "fields": [
                    "github_id",
                    "sync_status",
                    "last_synced_at",
                    "sync_error",
                    "access_token",
                    "clear_access_token",
                ]
            },
        ),
        ("Other", {"fields": ["metadata", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def save_model(self, request: HttpRequest, obj: Repository, form: Any, change: bool) -> None:
        services.save_repository(obj, created=not change)

    def delete_model(self, request: HttpRequest, obj: Repository) -> None:
        services.delete_repository(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Repository]) -> None:
        for repository in queryset:
            services.delete_repository(repository)

    @admin.action(description="Sync now with GitHub", permissions=["change"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Repository]) -> None:
        links = []
        for repository in queryset:
            services.mark_sync_queued(repository)
            result = tasks.sync_repository.delay(repository.pk, force=True)
            links.append((job_url(str(result.id)), repository.full_name))
        self.message_user(
            request,
            format_html(
                "Sync queued for {} repositor{}: {}",
                len(links),
                "y" if len(links) == 1 else "ies",
                format_html_join(", ", '<a href="{}">{}</a>', links),
            ),
            messages.SUCCESS,
        )

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "add-from-url/",
                self.admin_site.admin_view(self.add_from_url_view),
                name="repositories_repository_add_from_url",
            )
        ]
        return own + super().get_urls()

    def add_from_url_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponse("You may not add repositories.", status=403)
        form = AddFromUrlForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            repository, created = form.cleaned_data["parsed"]
            services.mark_sync_queued(repository)
            result = tasks.sync_repository.delay(repository.pk, force=True)
            self.message_user(
                request,
                format_html(
                    '{} {}; sync queued (<a href="{}">job status</a>).',
                    "Added" if created else "Already tracked:",
                    repository.full_name,
                    job_url(str(result.id)),
                ),
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:repositories_repository_change", args=[repository.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Add a repository from its URL",
            "opts": self.model._meta,
            "form": form,
            "host": github.web_host(),
        }
        return TemplateResponse(request, "admin/repositories/repository/add_from_url.html", context)


class AddFromUrlForm(forms.Form):
    url = forms.CharField(
        label="Repository URL", max_length=500, widget=forms.URLInput(attrs={"size": 60, "autofocus": True})
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "url" in cleaned:
            try:
                cleaned["parsed"] = sync.add_from_url(cleaned["url"])
            except ValidationError as exc:
                self.add_error("url", exc)
        return cleaned


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin[WebhookDelivery]):
    list_display = ["delivery_id", "event", "repository_full_name", "job_id", "received_at"]
    list_filter = ["event"]
    search_fields = ["delivery_id", "repository_full_name", "job_id"]
    readonly_fields = ["delivery_id", "event", "repository_full_name", "job_id", "received_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False
