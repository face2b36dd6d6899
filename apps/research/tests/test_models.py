from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.research import services
from apps.research.choices import ResearchTaskStatus
from apps.research.models import ResearchTask
from apps.research.tests.factories import ResearchTaskFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def test_completed_at_follows_the_status():
    task = ResearchTaskFactory.create()
    assert task.completed_at is None
    task.status = ResearchTaskStatus.COMPLETED
    task.save()
    assert task.completed_at is not None
    assert task.progress == 100
    first = task.completed_at
    task.save()
    assert task.completed_at == first
    task.status = ResearchTaskStatus.IN_PROGRESS
    task.save()
    assert task.completed_at is None


def test_bulk_status_change_keeps_completed_at_consistent():
    done = ResearchTaskFactory.create(status=ResearchTaskStatus.COMPLETED)
    stamp = done.completed_at
    tasks = ResearchTaskFactory.create_batch(2)
    assert services.set_status(ResearchTask.objects.all(), ResearchTaskStatus.COMPLETED) == 2
    done.refresh_from_db()
    assert done.completed_at == stamp
    for task in tasks:
        task.refresh_from_db()
        assert task.completed_at is not None
        assert task.progress == 100
    assert services.set_status(ResearchTask.objects.all(), ResearchTaskStatus.PENDING) == 3
    assert not ResearchTask.objects.filter(completed_at__isnull=False).exists()


def test_overdue_and_due_soon():
    late = ResearchTaskFactory.create(due_date=TODAY - dt.timedelta(days=1))
    ResearchTaskFactory.create(due_date=TODAY - dt.timedelta(days=1), status=ResearchTaskStatus.COMPLETED)
    ResearchTaskFactory.create(due_date=TODAY - dt.timedelta(days=1), status=ResearchTaskStatus.CANCELLED)
    soon = ResearchTaskFactory.create(due_date=TODAY + dt.timedelta(days=3))
    ResearchTaskFactory.create(due_date=TODAY + dt.timedelta(days=30))
    assert list(ResearchTask.objects.overdue()) == [late]
    assert late.is_overdue
    assert list(ResearchTask.objects.due_within(7)) == [soon]


def test_statistics():
    ResearchTaskFactory.create(due_date=TODAY - dt.timedelta(days=2))
    ResearchTaskFactory.create(status=ResearchTaskStatus.IN_PROGRESS, due_date=TODAY + dt.timedelta(days=7))
    ResearchTaskFactory.create(status=ResearchTaskStatus.COMPLETED, due_date=TODAY - dt.timedelta(days=5))
    stats = services.statistics(ResearchTask.objects.all())
    assert stats == {
        "total": 3,
        "by_status": {"pending": 1, "in_progress": 1, "blocked": 0, "completed": 1, "cancelled": 0},
        "overdue": 1,
        "due_in_7_days": 1,
    }
