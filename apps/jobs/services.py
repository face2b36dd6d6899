from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from celery.result import AsyncResult
from django.conf import settings
from django.utils import timezone

from apps.jobs.choices import FINISHED_STATES
from apps.jobs.models import Job

if TYPE_CHECKING:
    from rest_framework.response import Response

log = structlog.get_logger(__name__)


def job_url(task_id: str) -> str:
    return f"/api/v1/jobs/{task_id}/"


def accepted(result: AsyncResult | str) -> Response:
    """The 202 answer of every endpoint that starts background work."""
    # DRF is imported here, not at module level: the admin and management commands import this
    # module (job_url) and should not pay DRF's import at every start-up.
    from rest_framework import status
    from rest_framework.response import Response

    task_id = result if isinstance(result, str) else str(result.id)
    return Response(
        {"job_id": task_id, "status": "queued", "url": job_url(task_id)},
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": job_url(task_id)},
    )


def prune_finished_jobs(*, older_than_days: int | None = None) -> int:
    days = settings.JOB_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = Job.objects.filter(state__in=FINISHED_STATES, queued_at__lt=cutoff).delete()
    log.info("job_history_pruned", deleted=deleted, older_than_days=days)
    return deleted
