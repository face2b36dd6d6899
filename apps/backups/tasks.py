from __future__ import annotations

from typing import Any

from celery import shared_task

from apps.backups import services
from apps.backups.choices import Trigger


@shared_task(name="apps.backups.tasks.run_backup", acks_late=True, reject_on_worker_lost=True)
def run_backup(trigger: str = Trigger.API) -> dict[str, Any]:
    run = services.run_backup(trigger=trigger)
    return {"timestamp": run.timestamp, "size_bytes": run.size_bytes, "offsite": services.copy_offsite(run.timestamp)}


@shared_task(name="apps.backups.tasks.scheduled_backup", acks_late=True, reject_on_worker_lost=True)
def scheduled_backup() -> dict[str, Any]:
    """Beat, daily at BACKUP_SCHEDULE: back up, copy off-site (when configured), then prune
    what RETENTION_DAYS lets go, locally and off-site."""
    run = services.run_backup(trigger=Trigger.SCHEDULE)
    offsite = services.copy_offsite(run.timestamp)
    return {
        "timestamp": run.timestamp,
        "size_bytes": run.size_bytes,
        "offsite": offsite,
        "pruned": services.prune(),
        "pruned_offsite": services.prune_offsite(),
    }


@shared_task(name="apps.backups.tasks.verify_latest", acks_late=True)
def verify_latest(timestamp: str | None = None) -> dict[str, Any]:
    """Beat, weekly at VERIFY_SCHEDULE: the restore drill of the latest complete set."""
    return services.verify(timestamp)
