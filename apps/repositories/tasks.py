from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import structlog
from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.db.models import F

from apps.repositories import github, sync
from apps.repositories.models import Repository

log = structlog.get_logger(__name__)

MAX_RETRIES = 5


@shared_task(
    bind=True,
    name="apps.repositories.tasks.sync_repository",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=120,
    time_limit=180,
)
def sync_repository(self: Any, repository_id: int, force: bool = False) -> dict[str, Any]:
    """Sync one repository. 5xx and timeouts are retried with exponential backoff and jitter;
    an exhausted rate limit re-schedules the job for GitHub's reset time (not counted as a
    failed attempt); 404/401/403 end the job with the reason stored on the repository."""
    repository = Repository.objects.filter(pk=repository_id).first()
    if repository is None:
        return {"repository_id": repository_id, "ok": False, "error": "repository no longer exists"}
    try:
        return sync.sync_repository(repository, force=force).as_dict()
    except github.RateLimited as exc:
        eta = exc.reset_at + timedelta(seconds=random.uniform(1, 30))  # noqa: S311 - jitter, not security
        log.info("repository_sync_rescheduled", repository=repository.full_name, eta=eta.isoformat())
        raise self.retry(exc=exc, eta=eta, max_retries=self.request.retries + 1) from None
    except github.TransientGitHubError as exc:
        if self.request.retries >= MAX_RETRIES:
            sync.mark_failed(repository_id, f"{exc} (gave up after {MAX_RETRIES} retries)")
            raise
        countdown = get_exponential_backoff_interval(
            factor=5, retries=self.request.retries, maximum=600, full_jitter=True
        )
        raise self.retry(exc=exc, countdown=max(1, countdown)) from None


@shared_task(name="apps.repositories.tasks.sync_all_repositories", acks_late=True)
def sync_all_repositories() -> dict[str, Any]:
    """Beat, at REPOSITORY_SYNC_SCHEDULE: one sync job per repository, least recently synced first."""
    never_first = F("last_synced_at").asc(nulls_first=True)
    ids = list(Repository.objects.order_by(never_first, "pk").values_list("pk", flat=True))
    for repository_id in ids:
        sync_repository.delay(repository_id)
    log.info("repository_sync_scheduled", repositories=len(ids))
    return {"queued": len(ids)}
