"""POST /api/v1/repositories/{id}/sync/ and /api/v1/repositories/from-url/."""

from __future__ import annotations

import pytest

from apps.jobs.models import Job
from apps.repositories.models import Repository
from apps.repositories.tests.factories import RepositoryFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/repositories/"


def test_sync_answers_202_with_the_job(api):
    repository = RepositoryFactory.create()
    response = api.post(f"{URL}{repository.pk}/sync/")
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"job_id", "status", "url"}
    assert body["status"] == "queued"
    job = Job.objects.get(task_id=body["job_id"])
    assert job.name == "apps.repositories.tasks.sync_repository"
    assert job.args == [repository.pk]
    assert Repository.objects.get(pk=repository.pk).sync_status == "pending"


def test_sync_needs_the_change_permission(make_user, client_for):
    repository = RepositoryFactory.create()
    viewer = client_for(make_user("repositories.view_repository"))
    assert viewer.post(f"{URL}{repository.pk}/sync/").status_code == 403
    editor = client_for(make_user("repositories.view_repository", "repositories.change_repository"))
    assert editor.post(f"{URL}{repository.pk}/sync/").status_code == 202
    read_only = client_for(make_user("repositories.change_repository"), read_only=True)
    assert read_only.post(f"{URL}{repository.pk}/sync/").status_code == 403


def test_sync_without_credentials_is_401(client):
    repository = RepositoryFactory.create()
    response = client.post(f"{URL}{repository.pk}/sync/")
    assert response.status_code == 401


def test_from_url_creates_and_queues_a_sync(api):
    response = api.post(f"{URL}from-url/", {"url": "https://github.com/encode/django-rest-framework.git"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] is True
    assert body["repository"]["full_name"] == "encode/django-rest-framework"
    assert body["job"]["url"] == f"/api/v1/jobs/{body['job']['job_id']}/"
    repository = Repository.objects.get(full_name="encode/django-rest-framework")
    assert Job.objects.get(task_id=body["job"]["job_id"]).args == [repository.pk]


def test_from_url_of_a_tracked_repository_answers_200_and_syncs_it(api):
    RepositoryFactory.create(owner="encode", name="httpx")
    response = api.post(f"{URL}from-url/", {"url": "https://github.com/Encode/httpx/"})
    assert response.status_code == 200
    assert response.json()["created"] is False
    assert Repository.objects.count() == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://gitlab.com/owner/name", "Only repositories on github.com"),
        ("https://github.com/owner", "got 1 path segments"),
        ("https://github.com/owner/name/tree/main", "got 4 path segments"),
        ("http://github.com/owner/name", "Enter a repository URL"),
        ("github.com/owner/name", "Enter a repository URL"),
        ("https://github.com/-bad/name", "valid GitHub owner"),
        ("https://github.com/owner/na me", "valid repository name"),
        ("https://github.com/owner/name?tab=readme", "must not carry a query"),
        ("https://user:pw@github.com/owner/name", "must not carry"),
    ],
)
def test_from_url_refuses_other_hosts_and_malformed_urls(api, url, message):
    response = api.post(f"{URL}from-url/", {"url": url})
    assert response.status_code == 400
    assert message in " ".join(response.json()["url"])
    assert not Repository.objects.exists()


def test_from_url_needs_a_url(api):
    response = api.post(f"{URL}from-url/", {})
    assert response.status_code == 400
    assert "url" in response.json()


def test_from_url_accepts_the_enterprise_host(api, settings):
    settings.GITHUB_API_URL = "https://ghe.example.com/api/v3"
    assert api.post(f"{URL}from-url/", {"url": "https://ghe.example.com/team/tool"}).status_code == 201
    response = api.post(f"{URL}from-url/", {"url": "https://github.com/team/other"})
    assert response.status_code == 400
    assert "ghe.example.com" in response.json()["url"][0]


def test_from_url_needs_the_add_permission(make_user, client_for):
    viewer = client_for(make_user("repositories.view_repository"))
    assert viewer.post(f"{URL}from-url/", {"url": "https://github.com/a/b"}).status_code == 403


def test_release_fields_are_read_only(api):
    repository = RepositoryFactory.create()
    response = api.patch(f"{URL}{repository.pk}/", {"latest_release_tag": "v9", "github_id": 5})
    assert response.status_code == 200
    repository.refresh_from_db()
    assert repository.latest_release_tag == ""
    assert repository.github_id is None
