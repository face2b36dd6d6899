"""Smoke tests of a running deployment (the compose stack in CI, a server after a deploy).

    SMOKE_BASE_URL=http://127.0.0.1:8000 python -m pytest tests/smoke

Skipped without SMOKE_BASE_URL. They need nothing but pytest and the standard library, so they
also run outside the project's environment:

    python -m pytest -c /dev/null --rootdir . --noconftest -p no:cacheprovider tests/smoke

Requests carry ``X-Forwarded-Proto: https``, as the TLS proxy's do, so the production
settings serve them instead of redirecting. SMOKE_HOST sends another Host header (one of
ALLOWED_HOSTS) than the URL's; SMOKE_ADMIN_URL is DJANGO_ADMIN_URL when it is not ``admin/``.
"""

from __future__ import annotations

import http.client
import json
import os
import re
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest

BASE_URL = os.environ.get("SMOKE_BASE_URL", "").rstrip("/")
HOST = os.environ.get("SMOKE_HOST", "")
ADMIN = "/" + os.environ.get("SMOKE_ADMIN_URL", "admin/").strip("/") + "/"

pytestmark = pytest.mark.skipif(not BASE_URL, reason="SMOKE_BASE_URL is not set (the URL of a running app)")


class Answer(NamedTuple):
    status: int
    headers: dict[str, str]
    body: str


def get(path: str, **headers: str) -> Answer:
    """One request, redirects not followed."""
    parts = urlsplit(BASE_URL)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.netloc, timeout=30)
    sent = {"X-Forwarded-Proto": "https", "User-Agent": "commandcenter-smoke-test"}
    if HOST:
        sent["Host"] = HOST
    sent.update(headers)
    try:
        connection.request("GET", path, headers=sent)
        response = connection.getresponse()
        return Answer(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.read().decode("utf-8", "replace"),
        )
    finally:
        connection.close()


def test_health_answers_with_the_database_up():
    answer = get("/health")
    assert answer.status == 200, answer.body
    body = json.loads(answer.body)
    assert body["status"] in {"ok", "degraded"}
    assert body["checks"]["database"]["status"] == "ok"


def test_the_api_needs_a_key():
    answer = get("/api/v1/repositories/")
    assert answer.status == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert get("/api/v1/repositories/", Authorization="Bearer cc_not_a_real_key").status == 401


def test_the_admin_login_page_is_served_with_its_security_headers():
    answer = get(f"{ADMIN}login/")
    assert answer.status == 200
    assert "csrfmiddlewaretoken" in answer.body
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in answer.headers["content-security-policy"]


def test_the_admin_static_files_are_served():
    page = get(f"{ADMIN}login/").body
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+\.css)"', page)
    assert stylesheets
    for url in stylesheets:
        answer = get(url)
        assert answer.status == 200, url
        assert answer.headers["content-type"].startswith("text/css"), url


def test_the_api_docs_are_served_without_a_cdn():
    answer = get("/api/docs/")
    assert answer.status == 200
    scripts = re.findall(r'<script src="([^"]+)"', answer.body)
    assert scripts
    for url in scripts:
        assert url.startswith("/"), url
        assert get(url).status == 200, url


def test_metrics_is_not_a_server_error():
    # 200 from a scraper's network (METRICS_ALLOWED_IPS), 403 from anywhere else.
    answer = get("/metrics")
    assert answer.status in {200, 403}
    if answer.status == 200:
        assert "commandcenter_app_info" in answer.body
