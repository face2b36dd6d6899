"""Research task status changes, statistics, and starting research runs."""

from __future__ import annotations

import datetime as dt
import uuid
from functools import partial
from typing import Any

import structlog
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Case, Count, F, Q, QuerySet, Value, When
from django.utils import timezone

from apps.research.choices import CLOSED_STATUSES, ResearchRunStatus, ResearchTaskStatus, RunTrigger
from apps.research.models import ResearchRun, ResearchTask

log = structlog.get_logger(__name__)


def set_status(tasks: QuerySet[ResearchTask], status: str) -> int:
    """Bulk status change that keeps ``completed_at`` (and progress) consistent."""
    status = ResearchTaskStatus(status)
    if status == ResearchTaskStatus.COMPLETED:
        updated = tasks.exclude(status=status).update(
            status=status,
            progress=100,
            completed_at=Case(When(completed_at__isnull=True, then=Value(timezone.now())), default=F("completed_at")),
            updated_at=timezone.now(),
        )
    else:
        updated = tasks.exclude(status=status).update(status=status, completed_at=None, updated_at=timezone.now())
    log.info("research_tasks_status_changed", status=status.value, count=updated)
    return updated


def statistics(tasks: QuerySet[ResearchTask], today: dt.date | None = None) -> dict[str, Any]:
    today = today or timezone.localdate()
    open_ = ~Q(status__in=CLOSED_STATUSES)
    aggregates = {f"status_{s}": Count("id", filter=Q(status=s)) for s in ResearchTaskStatus.values}
    row = tasks.order_by().aggregate(
        total=Count("id"),
        overdue=Count("id", filter=open_ & Q(due_date__lt=today)),
        due_in_7_days=Count("id", filter=open_ & Q(due_date__gte=today, due_date__lte=today + dt.timedelta(days=7))),
        **aggregates,
    )
    return {
        "total": row["total"],
        "by_status": {s: row[f"status_{s}"] for s in ResearchTaskStatus.values},
        "overdue": row["overdue"],
        "due_in_7_days": row["due_in_7_days"],
    }


# --- research runs ------------------------------------------------------------------------------

ACTIVE_RUN_STATUSES = (ResearchRunStatus.QUEUED, ResearchRunStatus.RUNNING)


def start_run(
    task: ResearchTask,
    *,
    trigger: str = RunTrigger.API,
    user: AbstractBaseUser | AnonymousUser | None = None,
    job_id: str | None = None,
) -> ResearchRun:
    """A queued run of ``task``; its job is published once the transaction commits.

    The job id is chosen here and is the run's key: the job finds this row, and a ``job_id``
    already used gives back its run without queueing anything again.
    """
    run, created = ResearchRun.objects.get_or_create(
        job_id=job_id or str(uuid.uuid4()),
        defaults={
            "task": task,
            "trigger": trigger,
            "requested_by": user if user is not None and user.is_authenticated else None,
        },
    )
    if created:
        transaction.on_commit(partial(_publish, run), robust=False)
        log.info("research_run_queued", run_id=run.pk, job_id=run.job_id, task_id=task.pk, trigger=trigger)
    return run


def _publish(run: ResearchRun) -> None:
    from apps.research import tasks

    try:
        tasks.run_research.apply_async(args=(run.task_id,), kwargs={"trigger": run.trigger}, task_id=run.job_id)
    except Exception as exc:
        ResearchRun.objects.filter(pk=run.pk).update(
            status=ResearchRunStatus.FAILED, error=f"could not queue the job: {exc}", finished_at=timezone.now()
        )
        log.error("research_run_not_queued", run_id=run.pk, job_id=run.job_id, error=str(exc))
        raise


def start_recurring_runs(*, beat_job_id: str | None = None) -> dict[str, int]:
    """One run per open recurring task (Beat, RESEARCH_RECURRING_SCHEDULE). A task whose last
    run is still queued or running is skipped. The runs' job ids derive from the Beat job's,
    so the same Beat job redelivered queues nothing twice."""
    base = beat_job_id or str(uuid.uuid4())
    queued = skipped = 0
    busy = set(ResearchRun.objects.filter(status__in=ACTIVE_RUN_STATUSES).values_list("task_id", flat=True))
    for task in ResearchTask.objects.open().filter(is_recurring=True).order_by("pk"):
        job_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"research-recurring/{base}/{task.pk}"))
        if ResearchRun.objects.filter(job_id=job_id).exists() or task.pk in busy:
            skipped += 1
            continue
        start_run(task, trigger=RunTrigger.SCHEDULE, job_id=job_id)
        queued += 1
    log.info("research_recurring_runs_queued", queued=queued, skipped=skipped)
    return {"queued": queued, "skipped": skipped}
