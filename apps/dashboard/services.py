"""What the admin dashboard shows, read from the database (and the clock): counts, deadlines,
recent activity, sync errors, backup freshness, health, jobs, and the series of its charts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, F, Model, QuerySet
from django.db.models.functions import TruncWeek
from django.http import QueryDict
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from apps.backups.choices import RunStatus, Verification
from apps.backups.health import MAX_AGE as BACKUP_MAX_AGE
from apps.backups.models import BackupRun
from apps.dashboard.radar import Blip
from apps.jobs.choices import JobState
from apps.jobs.models import Job
from apps.knowledge.models import Document
from apps.repositories.choices import SyncStatus
from apps.repositories.models import Repository
from apps.research.choices import ResearchTaskStatus
from apps.research.models import ResearchTask
from apps.technologies.choices import RadarRing, TechnologyStatus
from apps.technologies.filtersets import TechnologyFilterSet
from apps.technologies.models import Technology
from commandcenter.health import run_checks

OK, WARN, FAIL = "ok", "warn", "fail"
# A backup is fresh within the age the backups health check and the BackupMissing alert
# accept; past two days it is a failure. A restore drill runs weekly (RestoreDrillMissing
# fires after 8 days).
BACKUP_WARN_AFTER = BACKUP_MAX_AGE
BACKUP_FAIL_AFTER = dt.timedelta(hours=48)
VERIFY_WARN_AFTER = dt.timedelta(days=8)
VERIFY_FAIL_AFTER = dt.timedelta(days=15)
FAILED_JOBS_WINDOW = dt.timedelta(days=7)
ACTIVE_JOB_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.RETRIED)
# Changes made outside the admin (API, imports, jobs) are seen through updated_at; an admin
# change also has a log entry within this margin, and is listed once, from the log.
SAME_CHANGE_MARGIN = dt.timedelta(seconds=5)


@dataclass(frozen=True)
class Tally:
    value: str
    label: str
    count: int


def _tally(queryset: QuerySet[Any], field: str, choices: Iterable[tuple[str, str]]) -> list[Tally]:
    found = {row[field]: row["n"] for row in queryset.order_by().values(field).annotate(n=Count("pk"))}
    return [Tally(value, label, found.get(value, 0)) for value, label in choices]


def repository_count() -> int:
    return Repository.objects.count()


def repositories_per_sync_status() -> list[Tally]:
    return _tally(Repository.objects.all(), "sync_status", SyncStatus.choices)


def technologies_per_ring() -> list[Tally]:
    return _tally(Technology.objects.all(), "ring", [*RadarRing.choices, ("", "Not placed")])


def technologies_per_status() -> list[Tally]:
    return _tally(Technology.objects.all(), "status", TechnologyStatus.choices)


def research_tasks_per_status() -> list[Tally]:
    return _tally(ResearchTask.objects.all(), "status", ResearchTaskStatus.choices)


@dataclass(frozen=True)
class Deadlines:
    overdue: list[ResearchTask]
    overdue_total: int
    due_soon: list[ResearchTask]
    due_soon_total: int


def deadlines(*, today: dt.date | None = None, limit: int = 8) -> Deadlines:
    """Open tasks past their due date, and those due within 7 days (the admin's filters)."""
    overdue = ResearchTask.objects.overdue(today).select_related("assignee").order_by("due_date", "title")
    soon = ResearchTask.objects.due_within(7, today).select_related("assignee").order_by("due_date", "title")
    return Deadlines(list(overdue[:limit]), overdue.count(), list(soon[:limit]), soon.count())


@dataclass(frozen=True)
class Activity:
    when: dt.datetime
    action: str  # added, changed, deleted
    kind: str  # the model's verbose name
    name: str
    url: str  # "" for a deleted object
    who: str  # "" when not made in the admin
    source: str  # "admin" or "API or job"


_LOG_ACTIONS = {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}


def _change_url(model: type[Model], pk: Any) -> str:
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
    except NoReverseMatch:
        return ""


def recent_activity(models: Sequence[type[Model]], *, limit: int = 8) -> list[Activity]:
    """The latest changes to ``models``: the admin log (who did what), and rows changed
    outside the admin (through the API, an import or a job) seen by their ``updated_at``."""
    types = ContentType.objects.get_for_models(*models)
    entries = LogEntry.objects.filter(content_type__in=types.values()).select_related("user")
    items = []
    for entry in entries.order_by("-action_time")[:limit]:
        items.append(
            Activity(
                when=entry.action_time,
                action=_LOG_ACTIONS.get(entry.action_flag, "changed"),
                kind=str(ContentType.objects.get_for_id(entry.content_type_id).name) if entry.content_type_id else "",
                name=entry.object_repr,
                url="" if entry.is_deletion() else (entry.get_admin_url() or ""),
                who=str(entry.user),
                source="admin",
            )
        )
    for model in models:
        if not {"created_at", "updated_at"} <= {f.name for f in model._meta.fields}:
            continue
        rows = list(model._default_manager.order_by("-updated_at")[:limit])
        if not rows:
            continue
        logged: dict[str, list[dt.datetime]] = {}
        for object_id, when in LogEntry.objects.filter(
            content_type=types[model],
            object_id__in=[str(row.pk) for row in rows],
            action_time__gte=min(row.updated_at for row in rows) - SAME_CHANGE_MARGIN,  # type: ignore[attr-defined]
        ).values_list("object_id", "action_time"):
            logged.setdefault(object_id, []).append(when)
        for row in rows:
            updated, created = row.updated_at, row.created_at  # type: ignore[attr-defined]
            if any(abs(when - updated) <= SAME_CHANGE_MARGIN for when in logged.get(str(row.pk), [])):
                continue
            items.append(
                Activity(
                    when=updated,
                    action="added" if updated - created < dt.timedelta(seconds=1) else "changed",
                    kind=str(model._meta.verbose_name),
                    name=str(row),
                    url=_change_url(model, row.pk),
                    who="",
                    source="API or job",
                )
            )
    items.sort(key=lambda item: item.when, reverse=True)
    return items[:limit]


def sync_errors(*, limit: int = 8) -> tuple[list[Repository], int]:
    """Repositories whose last sync failed, the most recent first (the token is never loaded)."""
    failed = Repository.objects.filter(sync_status=SyncStatus.FAILED).only(
        "pk", "owner", "name", "full_name", "sync_error", "last_synced_at"
    )
    ordered = failed.order_by(F("last_synced_at").desc(nulls_last=True), "full_name")
    return list(ordered[:limit]), failed.count()


@dataclass(frozen=True)
class Freshness:
    level: str  # ok, warn, fail
    when: dt.datetime | None
    age_hours: float | None
    run: BackupRun | None


def _freshness(
    run: BackupRun | None, when: dt.datetime | None, warn: dt.timedelta, fail: dt.timedelta, now: dt.datetime
) -> Freshness:
    if run is None or when is None:
        return Freshness(FAIL, None, None, None)
    age = now - when
    level = OK if age <= warn else WARN if age <= fail else FAIL
    return Freshness(level, when, age.total_seconds() / 3600, run)


@dataclass(frozen=True)
class BackupStatus:
    last_success: Freshness
    last_verified: Freshness
    last_failure: BackupRun | None  # only when newer than the last success
    running: BackupRun | None


def backup_status(*, now: dt.datetime | None = None) -> BackupStatus:
    current = now or timezone.now()
    success = BackupRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-timestamp").first()
    verified = (
        BackupRun.objects.filter(verification=Verification.PASSED, verified_at__isnull=False)
        .order_by("-verified_at")
        .first()
    )
    failure = BackupRun.objects.filter(status=RunStatus.FAILED).order_by("-timestamp").first()
    if failure is not None and success is not None and failure.timestamp < success.timestamp:
        failure = None
    return BackupStatus(
        last_success=_freshness(
            success,
            (success.finished_at or success.started_at) if success else None,
            BACKUP_WARN_AFTER,
            BACKUP_FAIL_AFTER,
            current,
        ),
        last_verified=_freshness(
            verified, verified.verified_at if verified else None, VERIFY_WARN_AFTER, VERIFY_FAIL_AFTER, current
        ),
        last_failure=failure,
        running=BackupRun.objects.filter(status=RunStatus.RUNNING).order_by("-timestamp").first(),
    )


@dataclass(frozen=True)
class HealthRow:
    name: str
    status: str
    detail: str


def health() -> tuple[str, list[HealthRow]]:
    """The ``/health`` checks: the overall status and one row per dependency."""
    overall, results = run_checks()
    return overall, [HealthRow(name, r["status"], r["detail"]) for name, r in results.items()]


@dataclass(frozen=True)
class JobsOverview:
    active: list[Job]
    active_total: int
    failed: list[Job]
    failed_total: int


def jobs_overview(*, limit: int = 6, now: dt.datetime | None = None) -> JobsOverview:
    """Jobs queued or running, and jobs failed in the last 7 days."""
    since = (now or timezone.now()) - FAILED_JOBS_WINDOW
    active = Job.objects.filter(state__in=ACTIVE_JOB_STATES).order_by("-queued_at")
    failed = Job.objects.filter(state=JobState.FAILED, queued_at__gte=since).order_by("-queued_at")
    return JobsOverview(list(active[:limit]), active.count(), list(failed[:limit]), failed.count())


@dataclass(frozen=True)
class WeeklyResearch:
    weeks: list[dt.date]  # Mondays
    opened: list[int]
    completed: list[int]


def research_per_week(*, weeks: int = 12, today: dt.date | None = None) -> WeeklyResearch:
    """Research tasks opened (created) and completed in each of the last ``weeks`` weeks."""
    day = today or timezone.localdate()
    mondays = [day - dt.timedelta(days=day.weekday(), weeks=weeks - 1 - i) for i in range(weeks)]
    first = timezone.make_aware(dt.datetime.combine(mondays[0], dt.time.min))

    def per_week(field: str) -> list[int]:
        rows = (
            ResearchTask.objects.filter(**{f"{field}__gte": first})
            .annotate(week=TruncWeek(field))
            .order_by()
            .values("week")
            .annotate(n=Count("pk"))
        )
        # TruncWeek answers midnight of the Monday, in the current time zone.
        found = {row["week"].date(): row["n"] for row in rows}
        return [found.get(monday, 0) for monday in mondays]

    return WeeklyResearch(mondays, per_week("created_at"), per_week("completed_at"))


def backup_history(*, limit: int = 30) -> list[BackupRun]:
    """The last ``limit`` successful backups, oldest first."""
    runs = BackupRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-timestamp")[:limit]
    return list(reversed(list(runs.only("timestamp", "size_bytes", "duration", "started_at", "finished_at"))))


def documents_per_collection(*, limit: int = 10) -> list[tuple[str, int]]:
    rows = Document.objects.order_by().values("collection").annotate(n=Count("pk")).order_by("-n", "collection")
    return [(row["collection"], row["n"]) for row in rows[:limit]]


def radar_technologies(filters: Mapping[str, Any]) -> tuple[QuerySet[Technology], bool]:
    """Technologies matching the API's technology filters (``tags``, ``status``, ...), and
    whether the filters were valid (invalid ones are ignored: every technology is shown)."""
    data = filters if isinstance(filters, QueryDict) else QueryDict(mutable=True)
    if data is not filters:
        for key, value in filters.items():
            data.setlist(key, list(value) if isinstance(value, list | tuple) else [value])
    filterset = TechnologyFilterSet(data, queryset=Technology.objects.all())
    if filterset.is_valid():
        return filterset.qs, True
    return Technology.objects.all(), False


def radar_blips(queryset: QuerySet[Technology]) -> list[Blip]:
    statuses = dict(TechnologyStatus.choices)
    rows = queryset.order_by().values("id", "title", "domain", "ring", "status")
    return [
        Blip(
            id=row["id"],
            title=row["title"],
            domain=row["domain"],
            ring=row["ring"],
            status=str(statuses.get(row["status"], row["status"])),
            url=_change_url(Technology, row["id"]),
        )
        for row in rows
    ]
