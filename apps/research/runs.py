"""A research run: gather the evidence of a task, write its report, keep the run row current.

The run row is made when the job is queued (``services.start_run``) and found again by the
job's id, so the work is idempotent: a job redelivered after it succeeded returns the stored
outcome, one redelivered while "running" (its worker died) does the work again and replaces
the run's fields in one final write, never adding a second run or a second report.

Errors: ``TransientLLMError`` (model unreachable, rate limited, 5xx) puts the run back to
``queued`` and is raised for the task to retry; anything else ends the run as ``failed`` with
the reason and raises ``RunFailed`` (not retried).
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from apps.research import llm, report
from apps.research.choices import CLOSED_STATUSES, FINISHED_RUN_STATUSES, ResearchRunStatus, RunTrigger
from apps.research.models import ResearchRun, ResearchTask
from commandcenter.metrics import active_research_tasks, research_task_duration

log = structlog.get_logger(__name__)

TASK_TYPE = "research_run"  # the bounded task_type label of research_task_duration
MAX_ERROR = 5000
# A run changes neither the task's status nor completes it (a person reads the report and
# closes the task): the task's progress follows the run's up to 90 %, 100 % being left for
# completed tasks, as ResearchTask.save() keeps it.
TASK_PROGRESS_CAP = 90

TransientError = llm.TransientLLMError


class RunFailed(Exception):
    """The run ended as failed; the reason is on the run. Not retried."""


def describe(exc: BaseException) -> str:
    from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

    if isinstance(exc, SoftTimeLimitExceeded | TimeLimitExceeded):
        return f"time limit exceeded (RESEARCH_TIME_LIMIT={settings.RESEARCH_TIME_LIMIT} s)"
    if isinstance(exc, RunFailed | llm.LLMError):
        return str(exc)[:MAX_ERROR]
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR]


def outcome(run: ResearchRun) -> dict[str, Any]:
    """What the job returns (shown as the job's result)."""
    return {
        "run_id": run.pk,
        "task_id": run.task_id,
        "status": run.status,
        "summary_method": run.summary_method,
        "model": run.model,
        "sources": len(run.sources),
        "attempts": run.attempts,
        "error": run.error,
    }


# --- the run's life --------------------------------------------------------------------------


def claim(job_id: str, research_task_id: int, trigger: str = RunTrigger.API) -> ResearchRun:
    """The run of ``job_id``, marked running, unless it has already finished."""
    with transaction.atomic():
        run = ResearchRun.objects.select_for_update().filter(job_id=job_id).first()
        if run is None:
            # Queued without services.start_run (e.g. by hand): the job makes its own row.
            if not ResearchTask.objects.filter(pk=research_task_id).exists():
                raise RunFailed(f"research task {research_task_id} does not exist")
            run = ResearchRun.objects.create(job_id=job_id, task_id=research_task_id, trigger=trigger)
        if run.is_finished:
            return run
        if run.status == ResearchRunStatus.RUNNING:
            log.warning("research_run_redelivered", run_id=run.pk, job_id=job_id, attempts=run.attempts)
        run.status = ResearchRunStatus.RUNNING
        run.attempts += 1
        run.started_at = timezone.now()
        run.finished_at = None
        run.duration = None
        run.progress = 0
        run.stage = "starting"
        run.save(update_fields=["status", "attempts", "started_at", "finished_at", "duration", "progress", "stage"])
    return run


def _progress(run: ResearchRun, percent: int, stage: str) -> None:
    run.progress, run.stage = percent, stage
    ResearchRun.objects.filter(pk=run.pk).update(progress=percent, stage=stage)
    # The task shows the run's progress too, never lowered and never to 100 (see above).
    value = min(percent, TASK_PROGRESS_CAP)
    ResearchTask.objects.filter(pk=run.task_id, progress__lt=value).exclude(status__in=CLOSED_STATUSES).update(
        progress=value, updated_at=timezone.now()
    )


def _finish(run: ResearchRun, status: str, **fields: Any) -> None:
    now = timezone.now()
    fields.update(status=status, finished_at=now)
    if run.started_at is not None:
        fields["duration"] = (now - run.started_at).total_seconds()
    for name, value in fields.items():
        setattr(run, name, value)
    ResearchRun.objects.filter(pk=run.pk).update(**fields)


def mark_failed(job_id: str, reason: str) -> bool:
    """End a run that has not finished as failed (retries exhausted, hard time limit)."""
    run = ResearchRun.objects.filter(job_id=job_id).exclude(status__in=FINISHED_RUN_STATUSES).first()
    if run is None:
        return False
    _finish(run, ResearchRunStatus.FAILED, error=reason[:MAX_ERROR], stage="failed")
    log.error("research_run_failed", run_id=run.pk, job_id=job_id, error=reason)
    return True


def execute(job_id: str, research_task_id: int, *, trigger: str = RunTrigger.API) -> dict[str, Any]:
    """Do the run of ``job_id`` (the Celery task's body)."""
    run = claim(job_id, research_task_id, trigger)
    if run.is_finished:
        log.info("research_run_already_finished", run_id=run.pk, job_id=job_id, status=run.status)
        return outcome(run)
    active_research_tasks.inc()
    started = time.monotonic()
    try:
        return _perform(run)
    except TransientError as exc:
        reason = f"attempt {run.attempts}: {describe(exc)}; retrying"
        ResearchRun.objects.filter(pk=run.pk).update(
            status=ResearchRunStatus.QUEUED, stage="waiting to retry", error=reason
        )
        log.warning("research_run_retrying", run_id=run.pk, job_id=job_id, error=reason)
        raise
    except Exception as exc:
        reason = describe(exc)
        _finish(run, ResearchRunStatus.FAILED, error=reason, stage="failed")
        log.error("research_run_failed", run_id=run.pk, job_id=job_id, error=reason)
        raise RunFailed(reason) from exc
    finally:
        active_research_tasks.dec()
        research_task_duration.labels(task_type=TASK_TYPE).observe(time.monotonic() - started)


def _perform(run: ResearchRun) -> dict[str, Any]:
    task = ResearchTask.objects.select_related("technology", "repository").get(pk=run.task_id)
    evidence = report.Evidence(question=question(task))
    _progress(run, 5, "gathering the technology")
    evidence.technology = technology_evidence(task)
    _progress(run, 15, "syncing repositories")
    evidence.repositories = repository_evidence(task, evidence.notes)
    _progress(run, 40, "searching the knowledge base")
    evidence.passages = passage_evidence(evidence.question, evidence.notes)
    _progress(run, 60, "writing the summary")
    provider = llm.provider()
    if provider == llm.EXTRACTIVE:
        summary = llm.Summary(report.extractive_summary(evidence), llm.method(provider), "")
        heading = report.EXTRACTIVE_LABEL
    else:
        summary = llm.summarize(report.prompt(evidence))
        heading = f"Summary ({summary.method}: {summary.model}, from the evidence below)"
    _progress(run, 90, "writing the report")
    task.refresh_from_db(fields=["status"])
    markdown = report.render(
        title=task.title,
        task_id=task.pk,
        task_status=task.get_status_display(),
        job_id=run.job_id,
        trigger=RunTrigger(run.trigger).label,
        started_at=run.started_at or timezone.now(),
        evidence=evidence,
        summary_heading=heading,
        summary=summary.text,
    )
    _finish(
        run,
        ResearchRunStatus.SUCCEEDED,
        progress=100,
        stage="done",
        report=markdown,
        sources=evidence.sources(),
        summary_method=summary.method,
        model=summary.model,
        error="",
    )
    log.info(
        "research_run_succeeded",
        run_id=run.pk,
        job_id=run.job_id,
        summary_method=summary.method,
        sources=len(run.sources),
        duration=run.duration,
    )
    return outcome(run)


# --- evidence --------------------------------------------------------------------------------


def question(task: ResearchTask) -> str:
    return "\n\n".join(part for part in (task.title.strip(), task.description.strip()) if part)


def _admin_url(name: str, pk: int) -> str:
    return reverse(f"admin:{name}_change", args=[pk])


def technology_evidence(task: ResearchTask) -> dict[str, Any] | None:
    tech = task.technology
    if tech is None:
        return None
    return {
        "title": tech.title,
        "vendor": tech.vendor,
        "domain": tech.get_domain_display(),
        "ring": tech.get_ring_display() if tech.ring else "not placed",
        "status": tech.get_status_display(),
        "relevance_score": tech.relevance_score,
        "priority": tech.priority,
        "description": tech.description,
        "use_cases": tech.use_cases,
        "url": tech.documentation_url
        or tech.website_url
        or tech.repository_url
        or _admin_url("technologies_technology", tech.pk),
    }


def repository_evidence(task: ResearchTask, notes: list[str]) -> list[dict[str, Any]]:
    """The task's repository and its technology's, each synced from GitHub first if stale."""
    from apps.repositories.models import Repository
    from apps.repositories.sync import sync_if_stale

    wanted = Q(pk=task.repository_id) if task.repository_id else Q(pk__in=[])
    if task.technology_id:
        wanted |= Q(technologies=task.technology_id)
    found = []
    for repository in Repository.objects.filter(wanted).distinct().order_by("full_name"):
        failed = False
        try:
            synced = sync_if_stale(repository)
        except Exception as exc:  # GitHub out of reach: report what is stored, say so
            synced, failed = False, True
            log.warning("research_repository_sync_failed", repository=repository.full_name, error=str(exc))
            notes.append(f"Repository {repository.full_name} could not be synced ({type(exc).__name__}: {exc}).")
        repository.refresh_from_db()
        if repository.sync_error and not failed:
            notes.append(f"Repository {repository.full_name}: the last sync failed ({repository.sync_error[:200]}).")
        found.append(
            {
                "full_name": repository.full_name,
                "url": repository.url,
                "description": repository.description,
                "stars": repository.stars,
                "forks": repository.forks,
                "open_issues": repository.open_issues,
                "language": repository.language,
                "last_commit_sha": repository.last_commit_sha,
                "last_commit_message": repository.last_commit_message,
                "last_commit_date": repository.last_commit_date,
                "latest_release": repository.latest_release_tag,
                "last_synced_at": repository.last_synced_at,
                "sync_status": repository.get_sync_status_display(),
                "sync_error": repository.sync_error,
                "synced_now": synced,
            }
        )
    return found


def passage_evidence(query: str, notes: list[str]) -> list[dict[str, Any]]:
    """The knowledge base's top passages; a search that fails is noted, not fatal."""
    from apps.knowledge import services as knowledge
    from apps.knowledge.models import Document

    try:
        passages = knowledge.search(query, limit=settings.RESEARCH_PASSAGES)
    except Exception as exc:  # Chroma or the embedding backend down: report without passages
        log.warning("research_knowledge_search_failed", error=f"{type(exc).__name__}: {exc}")
        notes.append(f"The knowledge base could not be searched ({type(exc).__name__}: {exc}); no passages.")
        return []
    urls = dict(Document.objects.filter(pk__in={p["document_id"] for p in passages}).values_list("pk", "source_url"))
    return [
        {**p, "url": urls.get(p["document_id"]) or _admin_url("knowledge_document", p["document_id"])}
        for p in sorted(passages, key=lambda p: -float(p["score"]))
    ]
