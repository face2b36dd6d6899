"""Malformed and oversized bodies and query strings: a clear 4xx in JSON, never a 500."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from apps.core.api.parsers import MAX_JSON_DEPTH
from apps.research.models import ResearchTask
from apps.technologies.models import Technology
from tests.hostile.conftest import World

pytestmark = pytest.mark.hostile

# JSON endpoints, each with a body that would otherwise be accepted.
JSON_ENDPOINTS = [
    ("post", "/api/v1/technologies/"),
    ("post", "/api/v1/research-tasks/"),
    ("post", "/api/v1/repositories/"),
    ("post", "/api/v1/knowledge/query/"),
    ("post", "/api/v1/knowledge/documents/"),
    ("patch", "/api/v1/repositories/{id}/"),
    ("put", "/api/v1/technologies/{id}/"),
]
DEEP = {
    "arrays": "[" * 100_000,
    "objects": '{"a":' * 100_000,
    "closed-arrays": "[" * 100_000 + "]" * 100_000,
    # Parsed by Python's decoder, but too deep to encode again while validating and saving.
    "just-under-the-interpreter-limit": '{"title": "t", "metadata": ' + '{"a":' * 880 + "1" + "}" * 880 + "}",
}


def _ids(endpoint: tuple[str, str]) -> str:
    return f"{endpoint[0].upper()} {endpoint[1]}"


def _client(world: World) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.key}")
    return client


def _send_raw(world: World, method: str, path: str, body: bytes | str, content_type: str) -> Any:
    return getattr(_client(world), method)(world.fill(path), data=body, content_type=content_type)


def _nothing_created(before: tuple[int, int]) -> bool:
    return (Technology.objects.count(), ResearchTask.objects.count()) == before


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=_ids)
def test_a_body_over_the_upload_limit_is_413(world: World, endpoint: tuple[str, str]):
    method, path = endpoint
    body = json.dumps({"title": "x" * (django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})
    response = _send_raw(world, method, path, body, "application/json")
    assert response.status_code == 413
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("shape", list(DEEP), ids=list(DEEP))
@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=_ids)
def test_deeply_nested_json_is_400(world: World, endpoint: tuple[str, str], shape: str):
    method, path = endpoint
    before = (Technology.objects.count(), ResearchTask.objects.count())
    response = _send_raw(world, method, path, DEEP[shape], "application/json")
    assert response.status_code == 400, response.content
    assert f"nested deeper than {MAX_JSON_DEPTH} levels" in response.json()["detail"]
    assert _nothing_created(before)


@pytest.mark.parametrize("path", ["/api/v1/research-tasks/", "/api/v1/repositories/"])
def test_deeply_nested_json_in_a_form_field_is_400(world: World, path: str):
    """``metadata`` sent as JSON text in a multipart form is decoded by the field itself."""
    data = {"title": "t", "full_name": "acme/deep", "metadata": "[" * 100_000}
    response = _client(world).post(path, data=data, format="multipart")
    assert response.status_code == 400, response.content
    assert response.json()["metadata"] == [f"JSON nested deeper than {MAX_JSON_DEPTH} levels."]


def test_nesting_within_the_limit_is_accepted(world: World):
    depth = MAX_JSON_DEPTH - 2  # the body object and ``metadata`` itself are two levels
    body = '{"title": "nested", "metadata": ' + '{"a":' * depth + "1" + "}" * depth + "}"
    response = _send_raw(world, "post", "/api/v1/research-tasks/", body, "application/json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"zen": "\xff\xfe"}'], ids=["deep", "invalid-utf-8"])
def test_the_github_webhook_refuses_a_signed_body_that_is_not_json(world: World, settings, body: bytes):
    settings.GITHUB_WEBHOOK_SECRET = "webhook-secret"
    signature = "sha256=" + hmac.new(b"webhook-secret", body, hashlib.sha256).hexdigest()
    response = APIClient().post(
        "/api/v1/webhooks/github/",
        data=body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="ping",
        HTTP_X_GITHUB_DELIVERY="delivery-1",
        HTTP_X_HUB_SIGNATURE_256=signature,
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "The body is not JSON."}


def test_an_oversized_webhook_delivery_is_413(world: World, settings):
    settings.GITHUB_WEBHOOK_SECRET = "webhook-secret"
    body = b'{"zen": "' + b"x" * django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b'"}'
    response = APIClient().post(
        "/api/v1/webhooks/github/",
        data=body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="ping",
        HTTP_X_GITHUB_DELIVERY="delivery-2",
        HTTP_X_HUB_SIGNATURE_256="sha256=" + hmac.new(b"webhook-secret", body, hashlib.sha256).hexdigest(),
    )
    assert response.status_code == 413


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, ids=_ids)
def test_invalid_utf8_in_a_json_body_is_400(world: World, endpoint: tuple[str, str]):
    method, path = endpoint
    before = (Technology.objects.count(), ResearchTask.objects.count())
    response = _send_raw(world, method, path, b'{"title": "caf\xe9 \xff\xfe", "query": "\xc3"}', "application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert _nothing_created(before)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/repositories/",
        "/api/v1/technologies/",
        "/api/v1/research-tasks/",
        "/api/v1/knowledge/documents/",
        "/api/v1/jobs/",
    ],
)
@pytest.mark.parametrize("query", ["search=%ff%fe", "search=caf%e9", "search=%c3", "search=%C0%AF"])
def test_invalid_utf8_in_a_query_string_matches_nothing(world: World, path: str, query: str):
    """Django decodes a query string's invalid UTF-8 as U+FFFD (the replacement character);
    searched literally, it matches no stored text: 200 and an empty page, never a 500."""
    response = _client(world).get(f"{path}?{query}")
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_raw_invalid_utf8_bytes_in_the_query_string_match_nothing(world: World):
    # The bytes as a WSGI server hands them over (latin-1 in the environ), not percent-encoded.
    response = _client(world).get("/api/v1/repositories/", QUERY_STRING=b"search=\xff\xfe".decode("latin-1"))
    assert response.status_code == 200
    assert response.json()["count"] == 0


@pytest.mark.parametrize(
    "query",
    ["search=%00", "owner=%00", "search=a%00b"],
)
def test_a_nul_character_in_a_query_string_is_400(world: World, query: str):
    response = _client(world).get(f"/api/v1/repositories/?{query}")
    assert response.status_code == 400
    assert "Null characters are not allowed." in json.dumps(response.json())


@pytest.mark.parametrize(
    "query",
    [
        "synced_before=0001-01-01T00:00:00%2B05:00",
        "synced_before=9999-12-31T23:59:59-05:00",
        "synced_before=2026-13-45T99:00:00",
    ],
)
def test_a_date_time_utc_cannot_hold_is_400(world: World, query: str):
    response = _client(world).get(f"/api/v1/repositories/?{query}")
    assert response.status_code == 400
    assert "synced_before" in response.json()


def test_a_far_offset_is_compared_in_utc(world: World):
    """-18:59 is a valid ISO 8601 offset (PostgreSQL holds ±15:59 only): converted to UTC."""
    response = _client(world).get("/api/v1/jobs/?queued_after=2000-01-01T00:00:00-18:59")
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize(
    "url",
    ["http://" + "ä" * 63 + ".example/", "https://" + "x" * 20 + "\u00df" * 40 + ".example/doc"],
    ids=["label-too-long-once-encoded", "mixed-label-too-long"],
)
def test_a_document_url_whose_host_cannot_be_encoded_is_400(world: World, url: str):
    """The URL validator counts characters; IDNA encoding makes the label longer than 63."""
    response = _client(world).post("/api/v1/knowledge/documents/", data={"url": url}, format="json")
    assert response.status_code == 400
    assert "not a valid host name" in response.json()["url"][0]
