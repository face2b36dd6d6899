from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from apps.jobs.services import job_url
from apps.knowledge import services, tasks
from apps.knowledge.models import Document


class SearchForm(forms.Form):
    query = forms.CharField(max_length=2000, widget=forms.TextInput(attrs={"size": 80, "autofocus": True}))
    limit = forms.IntegerField(min_value=1, max_value=50, initial=10)
    collection = forms.CharField(max_length=100, required=False)
    category = forms.CharField(max_length=100, required=False)


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin[Document]):
    list_display = [
        "title",
        "status",
        "chunk_count",
        "source_type",
        "collection",
        "category",
        "technology",
        "indexed_at",
    ]
    list_filter = ["status", "source_type", "collection", "category", "embedding_model"]
    search_fields = ["title", "source_url", "content_sha256"]
    autocomplete_fields = ["technology", "research_task"]
    list_select_related = ["technology"]
    readonly_fields = [
        "status",
        "error",
        "chunk_count",
        "embedding_model",
        "indexed_at",
        "content_type",
        "size",
        "content_sha256",
        "attachment",
        "created_at",
        "updated_at",
    ]
    actions = ["reindex"]
    change_list_template = "admin/knowledge/document/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        search = path("search/", self.admin_site.admin_view(self.search_view), name="knowledge_document_search")
        return [search, *super().get_urls()]

    def search_view(self, request: HttpRequest) -> HttpResponse:
        form = SearchForm(request.GET or None)
        results: list[dict[str, Any]] = []
        error = ""
        if form.is_valid():
            try:
                results = services.search(
                    form.cleaned_data["query"],
                    limit=form.cleaned_data["limit"],
                    collection=form.cleaned_data["collection"],
                    category=form.cleaned_data["category"],
                )
            except Exception as exc:  # show the reason on the page rather than a 500
                error = f"{type(exc).__name__}: {exc}"
        context = {
            **self.admin_site.each_context(request),
            "title": "Search the knowledge base",
            "opts": self.model._meta,
            "form": form,
            "results": results,
            "error": error,
            "searched": form.is_bound and form.is_valid(),
        }
        return TemplateResponse(request, "admin/knowledge/document/search.html", context)

    @admin.action(description="Re-index selected documents", permissions=["change"])
    def reindex(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        links = []
        for document in queryset:
            result = tasks.ingest_document.delay(document.pk)
            links.append((job_url(str(result.id)), document.title))
        self.message_user(
            request,
            format_html(
                "Re-indexing {} document(s): {}",
                len(links),
                format_html_join(", ", '<a href="{}">{}</a>', links),
            ),
            messages.SUCCESS,
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        for document in queryset:
            services.delete(document)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {"search_url": reverse("admin:knowledge_document_search"), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)
