"""A small, realistic state for the browser tests and the README's screenshots: the demo data
set, plus a few weeks of history (research tasks opened and closed, nightly backups, a restore
drill), documents in three collections, a running and a failed job, a failed sync and a few
changes in the admin log. Deterministic: the same picture every run."""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from apps.backups.choices import RunStatus, Trigger, Verification
from apps.backups.models import BackupRun
from apps.core.demo import load_demo
from apps.jobs.choices import JobState
from apps.jobs.models import Job
from apps.knowledge.choices import DocumentStatus
from apps.knowledge.embeddings import current_model_name
from apps.knowledge.models import Document
from apps.repositories.choices import SyncStatus
from apps.repositories.models import Repository
from apps.research.choices import ResearchTaskStatus
from apps.research.models import ResearchTask
from apps.technologies.models import Technology

PASSWORD = "a-long-password-for-tests"
DOCUMENTS = {
    "runbooks": ["Restore a backup", "Rotate the field encryption key", "Scale the workers", "Loki retention"],
    "architecture": ["ADR 7: one Chroma server", "ADR 9: Redis as broker and cache", "Request flow"],
    "vendor-docs": ["Traefik TLS options", "Prometheus recording rules"],
}


def load_showcase(*, now: dt.datetime | None = None) -> User:
    current = now or timezone.now()
    admin = User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    load_demo()
    _history(current)
    _backups(current)
    for i, (collection, title) in enumerate((c, t) for c, titles in DOCUMENTS.items() for t in titles):
        document = Document.objects.create(
            title=title,
            collection=collection,
            status=DocumentStatus.INDEXED,
            chunk_count=8,
            embedding_model=current_model_name(),
            indexed_at=current,
        )
        added = current - dt.timedelta(days=2 + i, hours=i)
        Document.objects.filter(pk=document.pk).update(created_at=added, updated_at=added)
    Job.objects.create(
        task_id=str(uuid.UUID(int=1)),
        name="apps.research.tasks.run_research",
        state=JobState.RUNNING,
        queued_at=current - dt.timedelta(minutes=2),
        started_at=current - dt.timedelta(minutes=2),
    )
    Job.objects.create(
        task_id=str(uuid.UUID(int=2)),
        name="apps.repositories.tasks.sync_repository",
        state=JobState.FAILED,
        error="GitHubError: GitHub answered 502 Bad Gateway",
        queued_at=current - dt.timedelta(hours=3),
    )
    Repository.objects.filter(full_name="grafana/loki").update(
        sync_status=SyncStatus.FAILED,
        sync_error="GitHub answered 502 Bad Gateway",
        last_synced_at=current - dt.timedelta(hours=3),
    )
    technologies = ContentType.objects.get_for_model(Technology)
    for title, flag, message in (("ChromaDB", CHANGE, "Changed ring."), ("DuckDB", ADDITION, "Added.")):
        technology = Technology.objects.get(title=title)
        LogEntry.objects.create(
            user=admin,
            content_type=technologies,
            object_id=str(technology.pk),
            object_repr=title,
            action_flag=flag,
            change_message=message,
            action_time=current - dt.timedelta(minutes=30 if flag == CHANGE else 50),
        )
    return admin


def _history(current: dt.datetime) -> None:
    """Spread the demo's creation over the last ten weeks (tasks completed nine days after they
    were opened), then a few recent changes made through the API."""
    for i, task in enumerate(ResearchTask.objects.order_by("title")):
        created = current - dt.timedelta(days=70 - i * 4, hours=i)
        completed = created + dt.timedelta(days=9) if task.status == ResearchTaskStatus.COMPLETED else None
        ResearchTask.objects.filter(pk=task.pk).update(created_at=created, updated_at=created, completed_at=completed)
    for model in (Repository, Technology):
        for i, pk in enumerate(model.objects.order_by("pk").values_list("pk", flat=True)):
            created = current - dt.timedelta(days=80 - i, hours=i)
            model.objects.filter(pk=pk).update(created_at=created, updated_at=created)
    for title, minutes_ago in (("OpenTelemetry", 12), ("Locust", 95)):
        Technology.objects.filter(title=title).update(updated_at=current - dt.timedelta(minutes=minutes_ago))
    ResearchTask.objects.filter(title__startswith="Trivy in CI").update(updated_at=current - dt.timedelta(minutes=40))


def _backups(current: dt.datetime) -> None:
    """Nightly backups at 02:00 for two weeks, growing slowly; the one of three days ago verified."""
    last_night = current.replace(hour=2, minute=0, second=0, microsecond=0)
    if last_night > current:
        last_night -= dt.timedelta(days=1)
    for days_ago in range(13, -1, -1):
        started = last_night - dt.timedelta(days=days_ago)
        duration = 24.0 + (days_ago * 7) % 11
        run = BackupRun.objects.create(
            timestamp=f"{started:%Y%m%d_%H%M%S}",
            trigger=Trigger.SCHEDULE,
            status=RunStatus.SUCCEEDED,
            components=["postgres", "rag", "redis"],
            finished_at=started + dt.timedelta(seconds=duration),
            duration=duration,
            size_bytes=int((48 + (13 - days_ago) * 0.9) * 1e6),
        )
        BackupRun.objects.filter(pk=run.pk).update(started_at=started)
        if days_ago == 3:
            BackupRun.objects.filter(pk=run.pk).update(
                verification=Verification.PASSED, verified_at=started + dt.timedelta(hours=2)
            )
