from __future__ import annotations

import socket
from typing import Any

from celery import shared_task
from django.utils import timezone

from apps.jobs import services


@shared_task(name="apps.jobs.tasks.ping")
def ping() -> dict[str, Any]:
    """Round trip through the broker: proves a worker is consuming and can reach the DB."""
    return {"pong": True, "host": socket.gethostname(), "at": timezone.now().isoformat()}


@shared_task(name="apps.jobs.tasks.prune_job_history")
def prune_job_history() -> dict[str, int]:
    return {"deleted": services.prune_finished_jobs()}
