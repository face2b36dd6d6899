from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.conf import settings

from apps.research import runs, services
from apps.research.choices import RunTrigger


class ResearchRunTask(Task):
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # Retries exhausted, or the hard time limit (called in the worker's main process):
        # the run must not stay "queued" or "running".
        reason = runs.describe(exc)
        if isinstance(exc, runs.TransientError):
            reason = f"gave up after {self.request.retries + 1} attempts: {reason}"
        runs.mark_failed(task_id, reason)


@shared_task(
    base=ResearchRunTask,
    bind=True,
    name="apps.research.tasks.run_research",
    # A worker child killed mid-run gives the job back to the queue at once; the run is
    # idempotent (keyed by this job's id), so doing it again replaces, never duplicates.
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(runs.TransientError,),
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=settings.RESEARCH_MAX_RETRIES,
    soft_time_limit=settings.RESEARCH_TIME_LIMIT,
    time_limit=settings.RESEARCH_TIME_LIMIT + 60,
)
def run_research(self: Task, research_task_id: int, trigger: str = RunTrigger.API) -> dict[str, Any]:
    return runs.execute(str(self.request.id), research_task_id, trigger=trigger)


@shared_task(bind=True, name="apps.research.tasks.run_recurring_research", acks_late=True, reject_on_worker_lost=True)
def run_recurring_research(self: Task) -> dict[str, int]:
    """Beat, at RESEARCH_RECURRING_SCHEDULE: a run of every open task marked recurring."""
    return services.start_recurring_runs(beat_job_id=str(self.request.id) if self.request.id else None)
