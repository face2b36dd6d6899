"""Security headers and CORS in every environment (here: the test settings); HSTS, the TLS
redirect and secure cookies are production's (test_production.py)."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

APP = "https://app.example.com"


def test_every_page_gets_the_security_headers():
    response = Client().get("/admin/login/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    policy = {part.split()[0]: part.split()[1:] for part in response["Content-Security-Policy"].split(";")}
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    # Production-only: a development server speaks plain HTTP.
    assert "Strict-Transport-Security" not in response


def test_health_and_metrics_are_answered_before_any_redirect_or_header_logic():
    with override_settings(SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
        assert Client().get("/health", HTTP_HOST="172.18.0.5:8000").status_code == 200
        assert Client().get("/metrics", HTTP_HOST="172.18.0.5:8000", REMOTE_ADDR="172.18.0.9").status_code == 200
        assert Client().get("/admin/login/").status_code == 301


def test_the_browsable_api_loads_only_files_of_its_own(superuser):
    client = Client()
    client.force_login(superuser)
    response = client.get("/api/v1/jobs/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    html = response.content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    static = re.findall(r"""(?:src|href)="(/static/[^"]+)\"""", html)
    assert static
    for url in static:
        assert finders.find(url.removeprefix("/static/")), url
    # What the page loads (scripts, stylesheets, images; not the links it shows) is this app's.
    loaded = re.findall(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)="([^"]+)\"""", html)
    assert loaded
    assert all(url.startswith("/") and not url.startswith("//") for url in loaded), loaded


@override_settings(CORS_ALLOWED_ORIGINS=[APP])
def test_cors_lets_the_configured_origins_call_the_api(api):
    preflight = Client().options(
        "/api/v1/jobs/",
        HTTP_ORIGIN=APP,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )
    assert preflight["Access-Control-Allow-Origin"] == APP
    assert "authorization" in preflight["Access-Control-Allow-Headers"]
    response = api.get("/api/v1/jobs/", HTTP_ORIGIN=APP)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert response["Access-Control-Expose-Headers"] == "X-Request-ID"
    assert "Access-Control-Allow-Credentials" not in response


@override_settings(CORS_ALLOWED_ORIGINS=[APP])
def test_cors_ignores_other_origins_and_other_paths(api):
    assert "Access-Control-Allow-Origin" not in api.get("/api/v1/jobs/", HTTP_ORIGIN="https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in Client().get("/admin/login/", HTTP_ORIGIN=APP)
