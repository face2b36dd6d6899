from __future__ import annotations

import pytest
from django.urls import reverse

from apps.jobs.models import Job
from apps.repositories.models import Repository
from apps.repositories.tests.factories import RepositoryFactory

pytestmark = pytest.mark.django_db


def test_the_sync_now_action_queues_jobs_and_links_them(client, superuser):
    client.force_login(superuser)
    repositories = RepositoryFactory.create_batch(2)
    response = client.post(
        reverse("admin:repositories_repository_changelist"),
        {"action": "sync_now", "_selected_action": [r.pk for r in repositories]},
        follow=True,
    )
    assert response.status_code == 200
    jobs = Job.objects.filter(name="apps.repositories.tasks.sync_repository")
    assert jobs.count() == 2
    page = response.content.decode()
    assert "Sync queued for 2 repositories" in page
    for job in jobs:
        assert f"/api/v1/jobs/{job.task_id}/" in page


def test_the_change_list_links_to_add_from_url(client, superuser):
    client.force_login(superuser)
    page = client.get(reverse("admin:repositories_repository_changelist")).content.decode()
    assert reverse("admin:repositories_repository_add_from_url") in page


def test_add_from_url_creates_syncs_and_redirects(client, superuser):
    client.force_login(superuser)
    url = reverse("admin:repositories_repository_add_from_url")
    assert client.get(url).status_code == 200
    response = client.post(url, {"url": "https://github.com/celery/celery"})
    repository = Repository.objects.get(full_name="celery/celery")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:repositories_repository_change", args=[repository.pk])
    assert Job.objects.filter(name="apps.repositories.tasks.sync_repository", args=[repository.pk]).exists()


def test_add_from_url_shows_the_reason_for_a_bad_url(client, superuser):
    client.force_login(superuser)
    response = client.post(reverse("admin:repositories_repository_add_from_url"), {"url": "https://example.com/a/b"})
    assert response.status_code == 200
    assert "Only repositories on github.com can be added" in response.content.decode()
    assert not Repository.objects.exists()


def test_add_from_url_needs_the_add_permission(client, make_user):
    user = make_user("repositories.view_repository", is_staff=True)
    client.force_login(user)
    response = client.post(reverse("admin:repositories_repository_add_from_url"), {"url": "https://github.com/a/b"})
    assert response.status_code == 403
    assert not Repository.objects.exists()
