"""Research task status changes and statistics."""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from django.db.models import Case, Count, F, Q, QuerySet, Value, When
from django.utils import timezone

from apps.research.choices import CLOSED_STATUSES, ResearchTaskStatus
from apps.research.models import ResearchTask

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
