from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from apps.repositories.models import Repository
from apps.repositories.tests.factories import RepositoryFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/repositories/"


def counter(operation: str, status: str = "success") -> float:
    value = REGISTRY.get_sample_value(
        "commandcenter_repository_operations_total", {"operation": operation, "status": status}
    )
    return value or 0.0


def test_it_creates_from_full_name_and_derives_urls(api):
    before = counter("create")
    response = api.post(URL, {"full_name": "django/django", "language": "Python"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["owner"], body["name"], body["full_name"]) == ("django", "django", "django/django")
    assert body["url"] == "https://github.com/django/django"
    assert body["clone_url"] == "https://github.com/django/django.git"
    assert body["sync_status"] == "never"
    assert counter("create") == before + 1


def test_it_creates_from_owner_and_name(api):
    response = api.post(URL, {"owner": "a", "name": "b"})
    assert response.status_code == 201
    assert response.json()["full_name"] == "a/b"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"full_name": "no-slash"}, "full_name"),
        ({"full_name": "a/b/c"}, "full_name"),
        ({"full_name": "-bad/name"}, "full_name"),
        ({"full_name": "owner/.."}, "full_name"),
        ({"full_name": "owner/sp ace"}, "full_name"),
        ({"owner": "ok"}, "name"),
        ({}, "owner"),
        ({"full_name": "a/b", "stars": -1}, "stars"),
        ({"full_name": "a/b", "url": "not a url"}, "url"),
    ],
)
def test_bad_input_is_400_with_field_errors(api, payload, field):
    response = api.post(URL, payload)
    assert response.status_code == 400
    assert field in response.json()
    assert not Repository.objects.exists()


def test_duplicates_are_400(api):
    RepositoryFactory.create(owner="django", name="django")
    response = api.post(URL, {"full_name": "django/django"})
    assert response.status_code == 400
    assert "already exists" in response.json()["full_name"][0]


def test_the_access_token_is_write_only(api):
    response = api.post(URL, {"full_name": "acme/private", "access_token": "ghp_supersecret"})
    assert response.status_code == 201
    assert "ghp_supersecret" not in response.content.decode()
    assert response.json()["has_access_token"] is True
    repo_id = response.json()["id"]
    detail = api.get(f"{URL}{repo_id}/")
    assert "access_token" not in detail.json()
    assert "ghp_supersecret" not in detail.content.decode()
    assert Repository.objects.get(pk=repo_id).access_token == "ghp_supersecret"


def test_update_and_delete_are_counted(api):
    repo = RepositoryFactory.create()
    updates, deletes = counter("update"), counter("delete")
    assert api.patch(f"{URL}{repo.pk}/", {"description": "new"}).status_code == 200
    assert api.delete(f"{URL}{repo.pk}/").status_code == 204
    assert (counter("update"), counter("delete")) == (updates + 1, deletes + 1)


def test_renaming_keeps_full_name_in_step(api):
    repo = RepositoryFactory.create(owner="old", name="name")
    assert api.patch(f"{URL}{repo.pk}/", {"full_name": "new/name"}).status_code == 200
    repo.refresh_from_db()
    assert repo.full_name == "new/name"


def test_filters_search_and_ordering(api):
    RepositoryFactory.create(owner="a", name="one", language="Go", stars=5)
    RepositoryFactory.create(owner="b", name="two", language="Python", stars=50, is_private=True)
    assert [r["full_name"] for r in api.get(f"{URL}?language=go").json()["results"]] == ["a/one"]
    assert [r["full_name"] for r in api.get(f"{URL}?is_private=true").json()["results"]] == ["b/two"]
    assert [r["full_name"] for r in api.get(f"{URL}?search=two").json()["results"]] == ["b/two"]
    assert [r["full_name"] for r in api.get(f"{URL}?ordering=-stars").json()["results"]] == ["b/two", "a/one"]
    assert api.get(f"{URL}?ordering=secret").status_code == 400
    assert api.get(f"{URL}?sync_status=bogus").status_code == 400
