"""``manage.py doctor``: has Celery Beat sent its periodic tasks lately?

Beat (django-celery-beat's DatabaseScheduler) records when it last sent each periodic task
(``PeriodicTask.last_run_at``, written every few minutes). If the most recent of them is
older than twice the shortest schedule's period (never less than ``MIN_WINDOW``), Beat is
not running, or is stuck. A warning, not a failure: the web app works without it, but
backups, syncs and prunes stop.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from commandcenter.health import OK, WARN, CheckResult, register

# Beat saves last_run_at every 3 minutes; a shorter window would warn about a healthy Beat.
MIN_WINDOW = timedelta(minutes=10)
# For schedules with no fixed period (solar): a daily task ran at least this recently.
FALLBACK_WINDOW = timedelta(hours=26)
GAPS_SAMPLED = 8  # a weekday-only crontab shows its weekend gap within 8 runs


def schedule_period(task: Any, now: datetime) -> timedelta | None:
    """The longest time between two runs of ``task``'s schedule (``None``: no fixed period)."""
    if task.interval is not None:
        return timedelta(seconds=task.interval.schedule.run_every.total_seconds())
    if task.crontab is None:
        return None
    schedule = task.crontab.schedule
    longest = timedelta(0)
    previous = now
    for _ in range(GAPS_SAMPLED + 1):
        start, delta, _now = schedule.remaining_delta(previous)
        following = start + delta
        if previous is not now:
            longest = max(longest, following - previous)
        previous = following
    return longest or None


def beat_window(periods: list[timedelta]) -> timedelta:
    if not periods:
        return FALLBACK_WINDOW
    return max(2 * min(periods), MIN_WINDOW)


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


@register("beat", doctor_only=True)
def check_beat() -> CheckResult:
    from django_celery_beat.models import PeriodicTask

    tasks = list(
        PeriodicTask.objects.filter(enabled=True, one_off=False, clocked__isnull=True).select_related(
            "interval", "crontab"
        )
    )
    if not tasks:
        return CheckResult(
            WARN, "no periodic task in the database: Beat has never started (celery -A commandcenter beat)"
        )
    now = timezone.now()
    periods = [period for task in tasks if (period := schedule_period(task, now)) is not None]
    window = beat_window(periods)
    sent = [(task.last_run_at, task.name) for task in tasks if task.last_run_at is not None]
    if not sent:
        return CheckResult(WARN, f"none of the {len(tasks)} periodic tasks has been sent yet: is Beat running?")
    last_run_at, name = max(sent)
    age = now - last_run_at
    if age > window:
        return CheckResult(
            WARN,
            f"the last periodic task ({name}) was sent {_age(age)} ago, more than {_age(window)} "
            "(twice the shortest schedule): is Beat running?",
        )
    return CheckResult(OK, f"last sent {_age(age)} ago ({name}); {len(tasks)} periodic tasks, window {_age(window)}")
