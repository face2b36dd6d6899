from __future__ import annotations

import pytest
from django.urls import reverse

from apps.backups.tests.factories import BackupRunFactory
from apps.jobs.models import Job

pytestmark = pytest.mark.django_db

BACKUP_NOW = reverse("admin:backups_backuprun_backup_now")
CHANGELIST = reverse("admin:backups_backuprun_changelist")


def test_back_up_now_queues_a_backup_and_links_its_job(client, superuser):
    client.force_login(superuser)
    response = client.post(BACKUP_NOW, follow=True)
    assert response.redirect_chain == [(CHANGELIST, 302)]
    job = Job.objects.get(name="apps.backups.tasks.run_backup")
    assert job.args == ["api"]
    page = response.content.decode()
    assert f'Backup queued (<a href="/api/v1/jobs/{job.task_id}/">job status</a>).' in page


def test_back_up_now_is_a_post(client, superuser):
    client.force_login(superuser)
    assert client.get(BACKUP_NOW).status_code == 405
    assert not Job.objects.exists()


def test_back_up_now_needs_the_change_permission(client, make_user):
    viewer = make_user("backups.view_backuprun", is_staff=True)
    client.force_login(viewer)
    assert client.post(BACKUP_NOW).status_code == 403
    assert "Back up now" not in client.get(CHANGELIST).content.decode()
    assert not Job.objects.exists()
    client.force_login(make_user("backups.view_backuprun", "backups.change_backuprun", is_staff=True))
    assert "Back up now" in client.get(CHANGELIST).content.decode()
    assert client.post(BACKUP_NOW).status_code == 302
    assert Job.objects.count() == 1


def test_the_verify_action_queues_a_restore_drill_per_set_with_links(client, superuser):
    client.force_login(superuser)
    runs = [BackupRunFactory.create(hours_ago=30), BackupRunFactory.create(hours_ago=5)]
    response = client.post(CHANGELIST, {"action": "verify", "_selected_action": [run.pk for run in runs]}, follow=True)
    assert response.status_code == 200
    jobs = Job.objects.filter(name="apps.backups.tasks.verify_latest")
    assert sorted(job.args[0] for job in jobs) == sorted(run.timestamp for run in runs)
    page = response.content.decode()
    for job in jobs:
        assert f'Verifying {job.args[0]}: <a href="/api/v1/jobs/{job.task_id}/">job status</a>' in page
