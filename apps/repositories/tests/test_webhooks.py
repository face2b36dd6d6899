"""POST /api/v1/webhooks/github/: signature alone authenticates; push/repository events sync."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.jobs.models import Job
from apps.repositories.models import Repository, WebhookDelivery
from apps.repositories.tests.factories import RepositoryFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/webhooks/github/"
SECRET = "It's a Secret to Everybody"


@pytest.fixture
def secret(settings) -> str:
    settings.GITHUB_WEBHOOK_SECRET = SECRET
    return SECRET


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(event: str, payload: dict, *, signature: str | None = "sign", delivery: str | None = None):
    body = json.dumps(payload).encode()
    headers: dict[str, Any] = {"HTTP_X_GITHUB_EVENT": event, "HTTP_X_GITHUB_DELIVERY": delivery or str(uuid.uuid4())}
    if signature == "sign":
        headers["HTTP_X_HUB_SIGNATURE_256"] = sign(body)
    elif signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    client = APIClient(enforce_csrf_checks=True)
    return client.post(URL, data=body, content_type="application/json", **headers)


def push_for(repository: Repository) -> dict:
    return {"ref": "refs/heads/main", "repository": {"id": 42, "full_name": repository.full_name}}


def sync_jobs() -> list[Job]:
    return list(Job.objects.filter(name="apps.repositories.tasks.sync_repository"))


def test_the_signature_of_githubs_documentation_example_verifies(settings):
    # The example of GitHub's "Validating webhook deliveries" page.
    from apps.repositories.webhooks import signature_is_valid

    settings.GITHUB_WEBHOOK_SECRET = SECRET
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signature_is_valid(b"Hello, World!", expected)
    assert not signature_is_valid(b"Hello, World?", expected)


def test_a_signed_push_queues_a_sync_of_that_repository(secret):
    repository = RepositoryFactory.create(owner="octo", name="app")

    response = deliver("push", push_for(repository))

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["repository"] == "octo/app"
    assert body["url"] == f"/api/v1/jobs/{body['job_id']}/"
    jobs = sync_jobs()
    assert [(job.task_id, job.args, job.kwargs) for job in jobs] == [(body["job_id"], [repository.pk], {"force": True})]
    repository.refresh_from_db()
    assert repository.sync_status == "pending"


def test_a_repository_event_queues_a_sync_too(secret):
    repository = RepositoryFactory.create(owner="octo", name="app")
    response = deliver("repository", {"action": "edited", **push_for(repository)})
    assert response.status_code == 202
    assert len(sync_jobs()) == 1


def test_a_repeated_delivery_is_ignored(secret):
    repository = RepositoryFactory.create(owner="octo", name="app")
    delivery = str(uuid.uuid4())
    assert deliver("push", push_for(repository), delivery=delivery).status_code == 202
    again = deliver("push", push_for(repository), delivery=delivery)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert len(sync_jobs()) == 1
    assert WebhookDelivery.objects.filter(delivery_id=delivery).count() == 1


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=" + "0" * 64, "sha1=abc", sign(b"another body")],
    ids=["missing", "empty", "wrong", "sha1", "other-body"],
)
def test_a_missing_or_bad_signature_is_403_and_does_nothing(secret, signature):
    repository = RepositoryFactory.create(owner="octo", name="app")
    response = deliver("push", push_for(repository), signature=signature)
    assert response.status_code == 403
    assert sync_jobs() == []
    assert not WebhookDelivery.objects.exists()


def test_without_a_configured_secret_every_delivery_is_403(settings):
    settings.GITHUB_WEBHOOK_SECRET = ""
    repository = RepositoryFactory.create(owner="octo", name="app")
    body = json.dumps(push_for(repository)).encode()
    response = APIClient().post(
        URL,
        data=body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="push",
        HTTP_X_GITHUB_DELIVERY="1",
        HTTP_X_HUB_SIGNATURE_256="sha256=" + hmac.new(b"", body, hashlib.sha256).hexdigest(),
    )
    assert response.status_code == 403


def test_ping_answers_pong(secret):
    response = deliver("ping", {"zen": "Keep it logically awesome.", "hook_id": 7})
    assert response.status_code == 200
    assert response.json()["status"] == "pong"


def test_an_untracked_repository_or_another_event_is_acknowledged_and_ignored(secret):
    untracked = deliver("push", {"repository": {"id": 1, "full_name": "someone/else"}})
    assert untracked.status_code == 200
    assert untracked.json()["detail"] == "repository not tracked"
    repository = RepositoryFactory.create(owner="octo", name="app")
    other = deliver("issues", push_for(repository))
    assert other.status_code == 200
    assert other.json()["status"] == "ignored"
    assert sync_jobs() == []


def test_the_github_id_finds_a_repository_renamed_since(secret):
    repository = RepositoryFactory.create(owner="octo", name="old", github_id=42)
    response = deliver("repository", {"action": "renamed", "repository": {"id": 42, "full_name": "octo/new"}})
    assert response.status_code == 202
    assert sync_jobs()[0].args == [repository.pk]


def test_a_body_that_is_not_json_is_400(secret):
    body = b"payload=%7B%7D"
    response = APIClient().post(
        URL,
        data=body,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_GITHUB_EVENT="push",
        HTTP_X_GITHUB_DELIVERY="d1",
        HTTP_X_HUB_SIGNATURE_256=sign(body),
    )
    assert response.status_code == 400
    assert "not JSON" in response.json()["detail"]


def test_missing_event_headers_are_400(secret):
    body = b"{}"
    response = APIClient().post(URL, data=body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=sign(body))
    assert response.status_code == 400


def test_an_api_key_is_not_needed_nor_enough(secret, api):
    response = api.post(URL, data=b"{}", content_type="application/json", HTTP_X_GITHUB_EVENT="ping")
    assert response.status_code == 403
