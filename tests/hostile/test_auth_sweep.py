"""Every operation under /api/v1/ without credentials, with a bad key, with a key of a user
holding no permission, and (writes) with a read-only key: 401 or 403, never data."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.backups.models import BackupRun
from apps.core.services import issue_api_key
from apps.core.tests.factories import UserFactory
from apps.jobs.models import Job
from apps.knowledge.models import Document
from apps.repositories.models import Repository
from apps.research.models import ResearchRun, ResearchTask, ResearchTaskAttachment
from apps.technologies.models import Technology
from tests.hostile.conftest import World

pytestmark = pytest.mark.hostile

WEBHOOK = "/api/v1/webhooks/github/"
SAFE = {"GET", "HEAD", "OPTIONS"}
# POST routes that only read (a search): a read-only key may use them.
READS_THROUGH_POST = {"/api/v1/knowledge/query/"}
MODELS = [Repository, Technology, ResearchTask, ResearchTaskAttachment, ResearchRun, Document, BackupRun, Job]


def _operations() -> list[tuple[str, str]]:
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return sorted((method.upper(), path) for path, operations in paths.items() for method in operations)


OPERATIONS = _operations()
API_OPERATIONS = [op for op in OPERATIONS if op[1] != WEBHOOK]
WRITES = [op for op in API_OPERATIONS if op[0] not in SAFE and op[1] not in READS_THROUGH_POST]


def _ids(operation: tuple[str, str]) -> str:
    return f"{operation[0]} {operation[1]}"


def _send(client: APIClient, method: str, url: str) -> Any:
    body: dict[str, Any] | None = {} if method in {"POST", "PUT", "PATCH"} else None
    return getattr(client, method.lower())(url, data=body, format="json" if body is not None else None)


def _assert_no_data(response: Any) -> None:
    """The body is DRF's error and nothing else: no results, no object fields."""
    body = response.json()
    assert isinstance(body, dict), body
    assert set(body) == {"detail"}, body


def _counts() -> dict[str, int]:
    return {model.__name__: model._default_manager.count() for model in MODELS}


def _api_routes() -> set[str]:
    def walk(patterns: list[Any], prefix: str) -> list[str]:
        routes = []
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                routes += walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                routes.append(prefix + str(pattern.pattern))
        return routes

    # A regex pattern's "^" is not part of a resolved route.
    return {route.replace("^", "") for route in walk(get_resolver().url_patterns, "") if route.startswith("api/v1/")}


@pytest.fixture
def nobody(db: None) -> User:
    """An active user holding no permission at all."""
    return UserFactory.create()


def test_the_sweep_covers_every_url_pattern_under_api_v1(world: World):
    swept = {resolve(world.fill(path)).route.replace("^", "") for _, path in OPERATIONS}
    assert swept == _api_routes()


@pytest.mark.parametrize("operation", API_OPERATIONS, ids=_ids)
def test_no_credentials_is_401_with_bearer_challenge(world: World, operation: tuple[str, str]):
    method, path = operation
    before = _counts()
    response = _send(APIClient(), method, world.fill(path))
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    _assert_no_data(response)
    assert _counts() == before


@pytest.mark.parametrize("operation", API_OPERATIONS, ids=_ids)
def test_a_bad_key_is_401(world: World, operation: tuple[str, str]):
    method, path = operation
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.key[:-4]}zzzz")
    before = _counts()
    response = _send(client, method, world.fill(path))
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    _assert_no_data(response)
    assert _counts() == before


@pytest.mark.parametrize("operation", API_OPERATIONS, ids=_ids)
def test_a_key_without_the_permission_is_403(world: World, nobody: User, operation: tuple[str, str]):
    method, path = operation
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_api_key(nobody).key}")
    before = _counts()
    response = _send(client, method, world.fill(path))
    assert response.status_code == 403, response.content
    _assert_no_data(response)
    assert _counts() == before


@pytest.mark.parametrize("operation", WRITES, ids=_ids)
def test_a_read_only_key_cannot_write(world: World, operation: tuple[str, str]):
    method, path = operation
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_api_key(world.superuser, read_only=True).key}")
    before = _counts()
    response = _send(client, method, world.fill(path))
    assert response.status_code == 403, response.content
    assert response.json() == {"detail": "This API key is read-only."}
    assert _counts() == before


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_AUTHORIZATION": "Bearer nope"}, {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + "0" * 64}],
    ids=["no-signature", "an-api-key-is-not-a-signature", "bad-signature"],
)
def test_the_github_webhook_without_a_valid_signature_is_403(world: World, settings, headers: dict[str, Any]):
    settings.GITHUB_WEBHOOK_SECRET = "webhook-secret"
    response = APIClient().post(
        WEBHOOK,
        data={"repository": {"full_name": world.repository.full_name}},
        format="json",
        HTTP_X_GITHUB_EVENT="push",
        HTTP_X_GITHUB_DELIVERY="d-1",
        **headers,
    )
    assert response.status_code == 403
    _assert_no_data(response)


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_the_schema_and_its_docs_are_public_and_hold_no_data(world: World, path: str):
    """The API's description is served to anyone (clients generate code from it); it names
    routes and fields, never a stored object."""
    response = APIClient().get(path)
    assert response.status_code == 200
    text = response.content.decode()
    for value in (world.repository.full_name, world.technology.title, world.task.title, world.document.title):
        assert value not in text


@pytest.mark.parametrize("operation", [op for op in API_OPERATIONS if op[0] == "GET"], ids=_ids)
def test_a_read_only_key_still_reads(world: World, operation: tuple[str, str]):
    """The control of the sweep: the filled paths name real objects, and a read-only key
    is refused only for what it may not do."""
    method, path = operation
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_api_key(world.superuser, read_only=True).key}")
    assert _send(client, method, world.fill(path)).status_code == 200
