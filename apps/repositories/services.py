"""Repository writes, shared by the admin and the API (and counted in the metrics)."""

from __future__ import annotations

from typing import Any

import structlog
from django.db import transaction

from apps.repositories.choices import SyncStatus
from apps.repositories.models import Repository
from commandcenter.metrics import track_repository_operation

log = structlog.get_logger(__name__)


def save_repository(repository: Repository, *, created: bool) -> Repository:
    operation = "create" if created else "update"
    try:
        repository.save()
    except Exception:
        track_repository_operation(operation, success=False)
        raise
    track_repository_operation(operation, success=True)
    log.info(f"repository_{operation}d", repository=repository.full_name)
    return repository


@transaction.atomic
def create_repository(data: dict[str, Any]) -> Repository:
    return save_repository(Repository(**data), created=True)


@transaction.atomic
def update_repository(repository: Repository, data: dict[str, Any]) -> Repository:
    for field, value in data.items():
        setattr(repository, field, value)
    return save_repository(repository, created=False)


def delete_repository(repository: Repository) -> None:
    full_name = repository.full_name
    try:
        repository.delete()
    except Exception:
        track_repository_operation("delete", success=False)
        raise
    track_repository_operation("delete", success=True)
    log.info("repository_deleted", repository=full_name)


def mark_sync_queued(repository: Repository) -> None:
    """Shown as "Sync queued" until the worker picks the job up."""
    Repository.objects.filter(pk=repository.pk).update(sync_status=SyncStatus.PENDING)
    repository.sync_status = SyncStatus.PENDING
