"""The admin's dashboard (its index page) and radar page: thin views over ``services``,
with the pictures rendered by ``svg`` and ``radar``. Each panel is shown to users who may
view its model."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from apps.dashboard import services
from apps.dashboard.forms import RadarFilterForm
from apps.dashboard.radar import render_radar
from apps.dashboard.svg import PALETTE, Series, bar_chart, hbar_chart, line_chart
from apps.knowledge.models import Document
from apps.repositories.models import Repository
from apps.research.models import ResearchTask
from apps.technologies.models import Technology


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    return HttpResponsePermanentRedirect(static("dashboard/favicon.svg"))


def _svg(markup: str) -> SafeString:
    # Built by apps.dashboard.svg, which escapes every text and attribute value.
    return mark_safe(markup)  # noqa: S308  # nosec B308 B703


def research_chart() -> SafeString:
    weekly = services.research_per_week()
    return _svg(
        bar_chart(
            title="Research tasks per week",
            labels=[f"{monday:%d %b}" for monday in weekly.weeks],
            series=[Series("opened", weekly.opened, PALETTE[0]), Series("completed", weekly.completed, PALETTE[2])],
        )
    )


def backup_charts() -> tuple[SafeString, SafeString]:
    runs = services.backup_history()
    labels = [(run.finished_at or run.started_at).strftime("%d %b %H:%M") for run in runs]
    size = bar_chart(
        title="Backup size",
        labels=labels,
        series=[Series("size", [run.size_bytes / 1e6 for run in runs], PALETTE[1])],
        unit="MB",
        integer=False,
    )
    duration = line_chart(
        title="Backup duration",
        labels=labels,
        series=[Series("duration", [run.duration or 0.0 for run in runs], PALETTE[3])],
        unit="s",
    )
    return _svg(size), _svg(duration)


def documents_chart() -> SafeString:
    return _svg(hbar_chart(title="Knowledge documents per collection", items=services.documents_per_collection()))


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    can = {
        "repositories": user.has_perm("repositories.view_repository"),
        "technologies": user.has_perm("technologies.view_technology"),
        "research": user.has_perm("research.view_researchtask"),
        "knowledge": user.has_perm("knowledge.view_document"),
        "backups": user.has_perm("backups.view_backuprun"),
        "jobs": user.has_perm("jobs.view_job"),
    }
    context: dict[str, Any] = {"can": can}
    if can["repositories"]:
        errors, total = services.sync_errors()
        context.update(
            repository_count=services.repository_count(),
            repository_sync=services.repositories_per_sync_status(),
            sync_errors=errors,
            sync_errors_total=total,
        )
    if can["technologies"]:
        rings = services.technologies_per_ring()
        queryset, _ = services.radar_technologies({})
        context.update(
            technology_rings=rings,
            technology_statuses=services.technologies_per_status(),
            technology_total=sum(t.count for t in rings),
            radar=_svg(render_radar(services.radar_blips(queryset))),
        )
    if can["research"]:
        tasks = services.research_tasks_per_status()
        context.update(
            research_statuses=tasks,
            research_total=sum(t.count for t in tasks),
            deadlines=services.deadlines(),
            research_chart=research_chart(),
        )
    if can["backups"]:
        size, duration = backup_charts()
        context.update(
            backups=services.backup_status(),
            backup_size_chart=size,
            backup_duration_chart=duration,
            can_back_up=user.has_perm("backups.change_backuprun"),
        )
    if can["knowledge"]:
        context["documents_chart"] = documents_chart()
    if can["jobs"]:
        context["jobs"] = services.jobs_overview()
    overall, checks = services.health()
    context.update(health_overall=overall, health_checks=checks)
    visible = [
        model
        for model, key in (
            (Repository, "repositories"),
            (Technology, "technologies"),
            (ResearchTask, "research"),
            (Document, "knowledge"),
        )
        if can[key]
    ]
    context["activity"] = services.recent_activity(visible) if visible else []
    return context


def radar(request: HttpRequest, site: AdminSite) -> TemplateResponse:
    """The radar page: the SVG inline (its dots link to each technology), filtered by tag and
    status through a plain GET form; the same picture is served by the API as radar.svg."""
    if not request.user.has_perm("technologies.view_technology"):
        raise PermissionDenied
    form = RadarFilterForm(request.GET or None)
    filters = {key: value for key, value in form.cleaned_data.items() if value} if form.is_valid() else {}
    queryset, _ = services.radar_technologies(filters)
    query = urlencode(filters)
    context = {
        **site.each_context(request),
        "title": "Technology radar",
        "opts": Technology._meta,
        "form": form,
        "radar": _svg(render_radar(services.radar_blips(queryset))),
        "count": queryset.count(),
        "svg_url": reverse("technology-radar-svg") + (f"?{query}" if query else ""),
        "changelist_url": reverse("admin:technologies_technology_changelist"),
    }
    return TemplateResponse(request, "admin/dashboard/radar.html", context)
