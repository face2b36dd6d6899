"""JSON log lines: their fields, request ids, and secrets that never appear."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from django.conf import settings
from django.http import StreamingHttpResponse
from django.test import Client

from apps.core.services import issue_api_key
from apps.jobs.tasks import ping
from commandcenter.logging import build_logging, redact_secrets
from commandcenter.middleware import VALID_REQUEST_ID, RequestLogMiddleware

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_logs() -> Iterator[Lines]:
    """Capture what the production (JSON_LOGS=true) formatter writes."""
    config = build_logging(level="INFO", json_logs=True)["formatters"]["structlog"]
    factory = config.pop("()")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(factory(**config))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    finally:
        root.removeHandler(handler)
        structlog.contextvars.clear_contextvars()


def finished(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == "request_finished"]


@pytest.mark.django_db
def test_request_lines_carry_the_contract_fields(json_logs, api, superuser):
    response = api.get("/api/v1/repositories/?page_size=5", HTTP_X_REQUEST_ID="abc-123")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "abc-123"
    [line] = finished(json_logs())
    assert line["request_id"] == "abc-123"
    assert line["level"] == "INFO"
    assert line["logger"] == "commandcenter.middleware"
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/repositories/"
    assert line["status_code"] == 200
    assert line["user_id"] == superuser.pk
    assert 0 <= line["duration"] < 10
    assert line["timestamp"].endswith("Z")


@pytest.mark.django_db
def test_client_errors_are_warnings_and_server_errors_have_a_stack_trace(json_logs, api, monkeypatch):
    assert Client().get("/api/v1/technologies/").status_code == 401
    [line] = finished(json_logs())
    assert line["level"] == "WARNING"
    assert line["status_code"] == 401

    from apps.technologies.api import views

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(views.TechnologyViewSet, "list", explode)
    api.raise_request_exception = False
    assert api.get("/api/v1/technologies/").status_code == 500
    failed = [line for line in json_logs() if line["event"] == "request_failed"]
    assert failed
    assert failed[0]["level"] == "ERROR"
    assert "RuntimeError: boom" in failed[0]["exception"]
    assert "Traceback" in failed[0]["exception"]
    assert failed[0]["path"] == "/api/v1/technologies/"
    assert failed[0]["status_code"] == 500
    assert VALID_REQUEST_ID.match(failed[0]["request_id"])
    assert 0 <= failed[0]["duration"] < 10
    assert len(finished(json_logs())) == 1  # the failed request is logged once, as request_failed


@pytest.mark.django_db
def test_a_missing_page_is_a_warning_not_a_failure(json_logs):
    assert Client().get("/no-such-page/").status_code == 404
    lines = json_logs()
    [line] = finished(lines)
    assert (line["level"], line["status_code"], line["path"]) == ("WARNING", 404, "/no-such-page/")
    assert not [line for line in lines if line["event"] == "request_failed"]


@pytest.mark.django_db
def test_the_request_fields_are_bound_while_it_is_served_and_cleared_after(json_logs, api, monkeypatch):
    from apps.technologies.api import views

    real_list = views.TechnologyViewSet.list

    def list_and_log(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        structlog.get_logger("test").info("inside_the_view")
        return real_list(self, request, *args, **kwargs)

    monkeypatch.setattr(views.TechnologyViewSet, "list", list_and_log)
    api.get("/api/v1/technologies/", HTTP_X_REQUEST_ID="bound-1")
    [inside] = [line for line in json_logs() if line["event"] == "inside_the_view"]
    assert inside["request_id"] == "bound-1"
    assert (inside["method"], inside["path"]) == ("GET", "/api/v1/technologies/")
    assert inside["user_id"] is not None  # bound by the API-key authentication
    assert structlog.contextvars.get_contextvars() == {}


def test_a_streaming_body_is_sent_with_the_request_fields_bound(json_logs, rf):
    def chunks() -> Iterator[bytes]:
        structlog.get_logger("test").info("chunk_made")
        yield b"one"
        yield b"two"

    middleware = RequestLogMiddleware(lambda request: StreamingHttpResponse(chunks()))
    response = middleware(rf.get("/download/", HTTP_X_REQUEST_ID="stream-1"))
    assert structlog.contextvars.get_contextvars() == {}  # cleared when the middleware returned
    assert b"".join(response.streaming_content) == b"onetwo"
    lines = json_logs()
    assert [line["event"] for line in lines] == ["request_finished", "chunk_made", "streaming_finished"]
    assert {line["request_id"] for line in lines} == {"stream-1"}
    assert structlog.contextvars.get_contextvars() == {}


def test_stdlib_log_lines_are_rendered_the_same_way(json_logs):
    logging.getLogger("somewhere.else").warning("disk at %d%%", 91, extra={"mount": "/var"})
    [line] = json_logs()
    assert line["event"] == "disk at 91%"
    assert (line["logger"], line["level"], line["mount"]) == ("somewhere.else", "WARNING", "/var")
    assert line["timestamp"].endswith("Z")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "given", ["", "x" * 200, "abc 123", 'a"b', "../../etc", "line\nbreak", "ünïcode", "-leading-dash"]
)
def test_invalid_request_ids_are_replaced(json_logs, given):
    response = Client().get("/api/v1/technologies/", HTTP_X_REQUEST_ID=given)
    request_id = response["X-Request-ID"]
    assert request_id != given
    assert VALID_REQUEST_ID.match(request_id)
    assert finished(json_logs())[0]["request_id"] == request_id


@pytest.mark.django_db
def test_a_request_id_is_generated_when_missing(json_logs):
    first = Client().get("/api/v1/technologies/")["X-Request-ID"]
    second = Client().get("/api/v1/technologies/")["X-Request-ID"]
    assert first != second
    assert len(first) == 32


@pytest.mark.django_db
def test_the_request_id_travels_with_the_jobs_a_request_starts(api, json_logs):
    from celery import signals

    seen: dict[str, Any] = {}

    def capture(headers: dict[str, Any] | None = None, **_: Any) -> None:
        seen.update((headers or {}).get("__django_structlog__", {}))

    signals.before_task_publish.connect(capture, weak=False)
    try:
        assert api.post("/api/v1/jobs/ping/", HTTP_X_REQUEST_ID="req-for-job").status_code == 202
    finally:
        signals.before_task_publish.disconnect(capture)
    assert seen["request_id"] == "req-for-job"
    enqueued = [line for line in json_logs() if line["event"] == "task_enqueued"]
    assert enqueued
    assert enqueued[0]["request_id"] == "req-for-job"
    assert enqueued[0]["child_task_name"] == ping.name


@pytest.mark.django_db
def test_secrets_never_reach_the_logs(json_logs, superuser, client):
    issued = issue_api_key(superuser)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {issued.key}")
    api.post(
        "/api/v1/repositories/",
        {"full_name": "acme/secret", "access_token": "ghp_abcdefghijklmnopqrstuvwxyz0123456789"},
        content_type="application/json",
    )
    Client(HTTP_AUTHORIZATION="Bearer cc_deadbeef_not-a-real-key-but-secret").get("/api/v1/technologies/")
    client.post("/admin/login/", {"username": superuser.username, "password": "hunter2-password"})
    structlog.get_logger("test").info(
        "diagnostic",
        password="hunter2-password",
        headers={"Authorization": f"Bearer {issued.key}", "Cookie": "sessionid=abc"},
        detail=f"failed with key {issued.key} and secret {settings.SECRET_KEY}",
        dsn="postgres://app:db-password-123@db:5432/cc",
    )
    text = json.dumps(json_logs())
    for secret in (
        issued.key,
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "not-a-real-key-but-secret",
        "hunter2-password",
        "sessionid=abc",
        settings.SECRET_KEY,
        "db-password-123",
    ):
        assert secret not in text, secret
    assert f"cc_{issued.api_key.prefix}_[REDACTED]" in text  # still recognisable


def test_redaction_keeps_harmless_fields():
    event = redact_secrets(None, "info", {"event": "x", "key_prefix": "ab12cd34", "user_id": 7, "count": 3})
    assert event == {"event": "x", "key_prefix": "ab12cd34", "user_id": 7, "count": 3}
