"""manage.py doctor's ``beat`` check: the most recent PeriodicTask.last_run_at."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from apps.jobs.health import FALLBACK_WINDOW, MIN_WINDOW, beat_window, check_beat, schedule_period
from commandcenter.health import OK, WARN

pytestmark = pytest.mark.django_db


def crontab(minute: str, hour: str, day_of_week: str = "*") -> CrontabSchedule:
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_week=day_of_week, day_of_month="*", month_of_year="*"
    )
    return schedule


def task(name: str, *, last_run_ago: timedelta | None, **schedule: object) -> PeriodicTask:
    last_run_at = timezone.now() - last_run_ago if last_run_ago is not None else None
    return PeriodicTask.objects.create(name=name, task=f"apps.jobs.tasks.{name}", last_run_at=last_run_at, **schedule)


def test_it_warns_when_beat_never_started():
    result = check_beat()
    assert result.status == WARN
    assert "Beat has never started" in result.detail


def test_it_warns_when_no_task_was_sent_yet():
    task("backup", crontab=crontab("0", "2"), last_run_ago=None)
    result = check_beat()
    assert result.status == WARN
    assert "none of the 1 periodic tasks has been sent yet" in result.detail


def test_it_passes_when_a_task_ran_within_twice_the_shortest_period():
    task("sync", crontab=crontab("0", "*"), last_run_ago=timedelta(minutes=70))  # hourly
    task("backup", crontab=crontab("0", "2"), last_run_ago=timedelta(hours=20))
    result = check_beat()
    assert result.status == OK
    assert "sync" in result.detail
    assert "window 2.0 h" in result.detail


def test_it_warns_when_the_last_run_is_older_than_the_window():
    task("sync", crontab=crontab("0", "*"), last_run_ago=timedelta(hours=3))
    task("backup", crontab=crontab("0", "2"), last_run_ago=timedelta(hours=5))
    result = check_beat()
    assert result.status == WARN
    assert "(sync) was sent 3.0 h ago, more than 2.0 h" in result.detail


def test_disabled_tasks_do_not_count():
    task("sync", crontab=crontab("0", "*"), last_run_ago=timedelta(minutes=5), enabled=False)
    assert "Beat has never started" in check_beat().detail


def test_the_period_of_each_kind_of_schedule():
    now = timezone.now()
    every_ten_seconds, _ = IntervalSchedule.objects.get_or_create(every=10, period=IntervalSchedule.SECONDS)
    assert schedule_period(PeriodicTask(interval=every_ten_seconds), now) == timedelta(seconds=10)
    assert schedule_period(PeriodicTask(crontab=crontab("30", "3")), now) == timedelta(days=1)
    assert schedule_period(PeriodicTask(crontab=crontab("0", "4", "0")), now) == timedelta(days=7)
    # Weekdays only: the longest gap is the weekend's.
    assert schedule_period(PeriodicTask(crontab=crontab("0", "9", "1-5")), now) == timedelta(days=3)


def test_the_window_has_a_floor_and_a_fallback():
    assert beat_window([timedelta(seconds=10)]) == MIN_WINDOW  # Beat saves last_run_at every 3 minutes
    assert beat_window([timedelta(hours=1), timedelta(days=1)]) == timedelta(hours=2)
    assert beat_window([]) == FALLBACK_WINDOW
