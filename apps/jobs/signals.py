"""Mirror every Celery task's life into :class:`apps.jobs.models.Job`.

``before_task_publish`` runs in the process that queues the task (web, Beat, a worker),
the others in the worker. Bookkeeping never breaks the task itself: a failure to write the
job row is logged and the task goes on.
"""

from __future__ import annotations

import json
import traceback as tb
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog
from celery import signals
from django.utils import timezone

from apps.jobs.choices import JobState
from apps.jobs.models import Job

log = structlog.get_logger(__name__)

MAX_TEXT = 20_000


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)[:MAX_TEXT]
    return value


def _safely(func: Callable[..., None]) -> Callable[..., None]:
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except Exception:  # never let bookkeeping fail a task or a publish
            log.exception("job_bookkeeping_failed", receiver=func.__name__)

    wrapper.__name__ = func.__name__
    return wrapper


def _finish(job_fields: dict[str, Any], started_at: datetime | None) -> dict[str, Any]:
    now = timezone.now()
    job_fields["finished_at"] = now
    if started_at is not None:
        job_fields["duration"] = (now - started_at).total_seconds()
    return job_fields


@signals.before_task_publish.connect
@_safely
def on_publish(
    sender: str | None = None,
    body: Any = None,
    headers: Mapping[str, Any] | None = None,
    routing_key: str | None = None,
    **_: Any,
) -> None:
    headers = headers or {}
    task_id = headers.get("id")
    if not task_id:
        return
    args: Any = []
    kwargs: Any = {}
    if isinstance(body, list | tuple) and len(body) >= 2:
        args, kwargs = body[0], body[1]
    retries = int(headers.get("retries") or 0)
    defaults = {
        "name": headers.get("task") or sender or "",
        "args": _jsonable(list(args)),
        "kwargs": _jsonable(dict(kwargs)),
        "queue": routing_key or "",
        "retries": retries,
        "state": JobState.RETRIED if retries else JobState.QUEUED,
    }
    if retries:
        Job.objects.update_or_create(task_id=task_id, defaults=defaults)
    else:
        Job.objects.get_or_create(task_id=task_id, defaults=defaults)


@signals.task_prerun.connect
@_safely
def on_prerun(task_id: str | None = None, task: Any = None, args: Any = None, kwargs: Any = None, **_: Any) -> None:
    if not task_id:
        return
    hostname = getattr(getattr(task, "request", None), "hostname", "") or ""
    retries = getattr(getattr(task, "request", None), "retries", 0) or 0
    Job.objects.update_or_create(
        task_id=task_id,
        defaults={"state": JobState.RUNNING, "started_at": timezone.now(), "worker": hostname, "retries": retries},
        create_defaults={
            "name": getattr(task, "name", ""),
            "args": _jsonable(list(args or [])),
            "kwargs": _jsonable(dict(kwargs or {})),
            "state": JobState.RUNNING,
            "started_at": timezone.now(),
            "worker": hostname,
            "retries": retries,
        },
    )


@signals.task_success.connect
@_safely
def on_success(sender: Any = None, result: Any = None, **_: Any) -> None:
    task_id = getattr(getattr(sender, "request", None), "id", None)
    if not task_id:
        return
    job = Job.objects.filter(task_id=task_id).only("started_at").first()
    fields = _finish(
        {"state": JobState.SUCCEEDED, "result": _jsonable(result), "error": ""}, job.started_at if job else None
    )
    Job.objects.filter(task_id=task_id).update(**fields)


@signals.task_failure.connect
@_safely
def on_failure(task_id: str | None = None, exception: BaseException | None = None, einfo: Any = None, **_: Any) -> None:
    if not task_id:
        return
    job = Job.objects.filter(task_id=task_id).only("started_at").first()
    trace = str(einfo) if einfo is not None else "".join(tb.format_exception(exception)) if exception else ""
    fields = _finish(
        {
            "state": JobState.FAILED,
            "error": f"{type(exception).__name__}: {exception}"[:MAX_TEXT] if exception else "failed",
            "traceback": trace[:MAX_TEXT],
        },
        job.started_at if job else None,
    )
    Job.objects.filter(task_id=task_id).update(**fields)


@signals.task_retry.connect
@_safely
def on_retry(request: Any = None, reason: Any = None, **_: Any) -> None:
    task_id = getattr(request, "id", None)
    if not task_id:
        return
    Job.objects.filter(task_id=task_id).update(
        state=JobState.RETRIED,
        retries=(getattr(request, "retries", 0) or 0) + 1,
        error=str(reason)[:MAX_TEXT],
    )


@signals.task_revoked.connect
@_safely
def on_revoked(request: Any = None, terminated: bool = False, expired: bool = False, **_: Any) -> None:
    task_id = getattr(request, "id", None)
    if not task_id:
        return
    reason = "expired" if expired else "terminated" if terminated else "revoked"
    Job.objects.filter(task_id=task_id).update(state=JobState.REVOKED, error=reason, finished_at=timezone.now())
