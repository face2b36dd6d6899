from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from apps.backups.choices import RunStatus, Verification
from apps.backups.tests.factories import BackupRunFactory
from apps.core.tests.factories import UserFactory
from apps.dashboard import services
from apps.jobs.choices import JobState
from apps.jobs.models import Job
from apps.jobs.tests.factories import JobFactory
from apps.knowledge.models import Document
from apps.knowledge.tests.factories import DocumentFactory
from apps.repositories.choices import SyncStatus
from apps.repositories.models import Repository
from apps.repositories.tests.factories import RepositoryFactory
from apps.research.choices import ResearchTaskStatus
from apps.research.models import ResearchTask
from apps.research.tests.factories import ResearchTaskFactory
from apps.technologies.choices import RadarRing, TechnologyStatus
from apps.technologies.models import Technology
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
TODAY = timezone.localdate()


def counts(tallies):
    return {t.value: t.count for t in tallies}


def test_it_counts_repositories_and_their_sync_statuses():
    RepositoryFactory.create_batch(2)
    RepositoryFactory.create(sync_status=SyncStatus.FAILED)
    assert services.repository_count() == 3
    per_status = counts(services.repositories_per_sync_status())
    assert per_status[SyncStatus.NEVER] == 2
    assert per_status[SyncStatus.FAILED] == 1
    assert per_status[SyncStatus.OK] == 0


def test_it_counts_technologies_per_ring_including_the_unplaced():
    TechnologyFactory.create_batch(2, ring=RadarRing.ADOPT)
    TechnologyFactory.create(ring=RadarRing.HOLD)
    TechnologyFactory.create(ring="")
    tallies = services.technologies_per_ring()
    assert [t.value for t in tallies] == ["adopt", "trial", "assess", "hold", ""]
    assert counts(tallies) == {"adopt": 2, "trial": 0, "assess": 0, "hold": 1, "": 1}
    assert tallies[-1].label == "Not placed"


def test_it_counts_technologies_per_status_in_the_choices_order():
    TechnologyFactory.create(status=TechnologyStatus.ARCHIVED)
    tallies = services.technologies_per_status()
    assert [t.value for t in tallies] == TechnologyStatus.values
    assert counts(tallies)[TechnologyStatus.ARCHIVED] == 1
    assert sum(t.count for t in tallies) == 1


def test_it_counts_research_tasks_per_status():
    ResearchTaskFactory.create_batch(3, status=ResearchTaskStatus.BLOCKED)
    ResearchTaskFactory.create(status=ResearchTaskStatus.COMPLETED)
    per_status = counts(services.research_tasks_per_status())
    assert per_status[ResearchTaskStatus.BLOCKED] == 3
    assert per_status[ResearchTaskStatus.COMPLETED] == 1
    assert per_status[ResearchTaskStatus.PENDING] == 0


def test_it_lists_overdue_and_soon_due_open_tasks_and_counts_them_all():
    late = [ResearchTaskFactory.create(due_date=TODAY - dt.timedelta(days=d)) for d in (1, 5, 9)]
    ResearchTaskFactory.create(due_date=TODAY - dt.timedelta(days=3), status=ResearchTaskStatus.COMPLETED)
    soon = ResearchTaskFactory.create(due_date=TODAY + dt.timedelta(days=2))
    ResearchTaskFactory.create(due_date=TODAY + dt.timedelta(days=20))
    result = services.deadlines(today=TODAY, limit=2)
    assert result.overdue_total == 3
    assert result.overdue == [late[2], late[1]]  # the most overdue first, at most ``limit``
    assert result.due_soon == [soon]
    assert result.due_soon_total == 1


def test_activity_lists_admin_changes_with_their_author_and_other_changes_once():
    user = UserFactory.create(username="ada")
    edited_in_admin = TechnologyFactory.create(title="Edited in the admin")
    LogEntry.objects.log_actions(
        user_id=user.pk, queryset=[edited_in_admin], action_flag=CHANGE, change_message="Changed ring."
    )
    TechnologyFactory.create(title="Created through the API")
    items = services.recent_activity([Technology])
    by_name = {item.name: item for item in items}
    assert len(items) == 2  # the admin change is not listed a second time from updated_at
    assert by_name["Edited in the admin"].who == "ada"
    assert by_name["Edited in the admin"].source == "admin"
    assert by_name["Edited in the admin"].url == f"/admin/technologies/technology/{edited_in_admin.pk}/change/"
    api = by_name["Created through the API"]
    assert (api.who, api.source, api.action, api.kind) == ("", "API or job", "added", "technology")


def test_activity_is_newest_first_limited_and_only_of_the_given_models():
    for i in range(5):
        task = ResearchTaskFactory.create(title=f"task {i}")
        ResearchTask.objects.filter(pk=task.pk).update(updated_at=NOW - dt.timedelta(minutes=10 - i))
    RepositoryFactory.create()
    items = services.recent_activity([ResearchTask], limit=3)
    assert [item.name for item in items] == ["task 4", "task 3", "task 2"]
    assert services.recent_activity([Repository])[0].kind == "repository"


def test_activity_reports_a_changed_row_as_changed():
    technology = TechnologyFactory.create()
    Technology.objects.filter(pk=technology.pk).update(updated_at=technology.created_at + dt.timedelta(minutes=5))
    assert services.recent_activity([Technology])[0].action == "changed"


def test_activity_shows_a_deletion_from_the_admin_log_without_a_link():
    user = UserFactory.create()
    LogEntry.objects.create(
        user=user,
        content_type=ContentType.objects.get_for_model(Document),
        object_id="99",
        object_repr="Old notes",
        action_flag=DELETION,
    )
    item = services.recent_activity([Document])[0]
    assert (item.action, item.name, item.url) == ("deleted", "Old notes", "")


def test_sync_errors_lists_failed_repositories_latest_first():
    RepositoryFactory.create(sync_status=SyncStatus.OK)
    older = RepositoryFactory.create(
        sync_status=SyncStatus.FAILED, sync_error="404", last_synced_at=NOW - dt.timedelta(hours=3)
    )
    newer = RepositoryFactory.create(
        sync_status=SyncStatus.FAILED, sync_error="rate limited", last_synced_at=NOW - dt.timedelta(hours=1)
    )
    never = RepositoryFactory.create(sync_status=SyncStatus.FAILED, sync_error="bad token")
    failed, total = services.sync_errors(limit=2)
    assert total == 3
    assert failed == [newer, older]
    assert never not in failed
    assert "access_token" in failed[0].get_deferred_fields()


@pytest.mark.parametrize(
    ("hours_ago", "level"),
    [(2, services.OK), (26, services.OK), (30, services.WARN), (47, services.WARN), (60, services.FAIL)],
)
def test_backup_status_colours_the_age_of_the_last_successful_backup(hours_ago, level):
    BackupRunFactory.create(hours_ago=hours_ago)
    status = services.backup_status(now=NOW + dt.timedelta(seconds=1))
    assert status.last_success.level == level
    assert status.last_success.age_hours == pytest.approx(hours_ago, abs=0.01)


def test_backup_status_without_any_backup_is_a_failure():
    status = services.backup_status()
    assert status.last_success.level == services.FAIL
    assert status.last_success.run is None
    assert status.last_verified.level == services.FAIL


@pytest.mark.parametrize(("days_ago", "level"), [(1, services.OK), (10, services.WARN), (20, services.FAIL)])
def test_backup_status_colours_the_age_of_the_last_verified_set(days_ago, level):
    BackupRunFactory.create(verification=Verification.PASSED, verified_at=NOW - dt.timedelta(days=days_ago))
    BackupRunFactory.create(hours_ago=0.5, verification=Verification.FAILED, verified_at=NOW)
    assert services.backup_status(now=NOW).last_verified.level == level


def test_backup_status_reports_a_failure_only_when_newer_than_the_last_success():
    BackupRunFactory.create(hours_ago=30, status=RunStatus.FAILED)
    success = BackupRunFactory.create(hours_ago=5)
    assert services.backup_status().last_failure is None
    failure = BackupRunFactory.create(hours_ago=1, status=RunStatus.FAILED)
    running = BackupRunFactory.create(hours_ago=0, status=RunStatus.RUNNING, finished_at=None)
    status = services.backup_status()
    assert status.last_failure == failure
    assert status.last_success.run == success
    assert status.running == running


def test_health_has_a_row_per_check_of_health_endpoint():
    overall, rows = services.health()
    names = [row.name for row in rows]
    assert overall in {"ok", "degraded", "fail"}
    assert "database" in names
    assert "backups" in names
    assert all(row.status in {"ok", "warn", "fail"} and row.detail for row in rows)
    assert "github" not in names  # doctor-only checks (slow, external) are not run


def test_jobs_overview_lists_active_jobs_and_recent_failures():
    JobFactory.create(state=JobState.RUNNING)
    JobFactory.create(state=JobState.QUEUED)
    JobFactory.create(state=JobState.SUCCEEDED)
    recent = JobFactory.create(state=JobState.FAILED, error="boom")
    old = JobFactory.create(state=JobState.FAILED)
    Job.objects.filter(pk=old.pk).update(queued_at=NOW - dt.timedelta(days=8))
    overview = services.jobs_overview(limit=1)
    assert overview.active_total == 2
    assert len(overview.active) == 1
    assert overview.failed == [recent]
    assert overview.failed_total == 1


def test_research_per_week_counts_opened_and_completed_tasks_by_monday():
    today = dt.date(2026, 11, 26)  # a Thursday
    opened = ResearchTaskFactory.create_batch(2)
    ResearchTask.objects.filter(pk__in=[t.pk for t in opened]).update(
        created_at=timezone.make_aware(dt.datetime(2026, 11, 17, 10))
    )
    done = ResearchTaskFactory.create(status=ResearchTaskStatus.COMPLETED)
    ResearchTask.objects.filter(pk=done.pk).update(
        created_at=timezone.make_aware(dt.datetime(2026, 8, 1)),  # before the 12 weeks
        completed_at=timezone.make_aware(dt.datetime(2026, 11, 25, 9)),
    )
    weekly = services.research_per_week(weeks=12, today=today)
    assert len(weekly.weeks) == 12
    assert weekly.weeks[-1] == dt.date(2026, 11, 23)
    assert weekly.weeks[0] == dt.date(2026, 9, 7)
    assert all(monday.weekday() == 0 for monday in weekly.weeks)
    assert weekly.opened[-2] == 2
    assert sum(weekly.opened) == 2
    assert weekly.completed[-1] == 1
    assert sum(weekly.completed) == 1


def test_backup_history_is_the_successful_runs_oldest_first():
    BackupRunFactory.create(hours_ago=50)
    BackupRunFactory.create(hours_ago=26, status=RunStatus.FAILED)
    latest = BackupRunFactory.create(hours_ago=2)
    runs = services.backup_history(limit=5)
    assert len(runs) == 2
    assert runs[-1] == latest
    assert services.backup_history(limit=1) == [latest]


def test_documents_per_collection_largest_first():
    DocumentFactory.create_batch(3, collection="runbooks")
    DocumentFactory.create(collection="adr")
    assert services.documents_per_collection() == [("runbooks", 3), ("adr", 1)]


def test_radar_technologies_apply_the_api_filters_and_ignore_invalid_ones():
    tagged = TechnologyFactory.create(tags=["python"], status=TechnologyStatus.EVALUATION)
    TechnologyFactory.create(tags=["rust"], status=TechnologyStatus.EVALUATION)
    TechnologyFactory.create(tags=["python"], status=TechnologyStatus.ARCHIVED)
    queryset, valid = services.radar_technologies({"tags": "python", "status": "evaluation"})
    assert valid
    assert list(queryset) == [tagged]
    queryset, valid = services.radar_technologies({"status": "nonsense"})
    assert not valid
    assert queryset.count() == 3


def test_radar_blips_carry_the_status_label_and_the_admin_link():
    technology = TechnologyFactory.create(title="Loki", ring=RadarRing.TRIAL, status=TechnologyStatus.RESEARCH)
    (blip,) = services.radar_blips(Technology.objects.all())
    assert (blip.id, blip.title, blip.ring, blip.status) == (technology.pk, "Loki", "trial", "Research")
    assert blip.url == f"/admin/technologies/technology/{technology.pk}/change/"
