"""Run with ``config.settings.production`` (see ``production.py``): sends the requests the
tests look at through the whole middleware stack and writes the answers as JSON.

``python -m tests.security.production_requests OUT.json``
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import django

django.setup()

from axes.models import AccessAttempt, AccessLog  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

from tests.security.production import ADMIN_URL, CORS_ORIGIN, SUPERUSER_PASSWORD  # noqa: E402

# What Prometheus sends when it scrapes a target (2.x and 3.x; scrape_protocols negotiation).
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)
HTTPS = {"HTTP_X_FORWARDED_PROTO": "https"}
# Traefik's address as the peer, the client appended to X-Forwarded-For.
VIA_PROXY = {"REMOTE_ADDR": "10.0.3.2", **HTTPS}
ASSET = re.compile(r"""(?:src|href)="([^"]+)\"""")


def answer(response: Any, *, body: bool = False) -> dict[str, Any]:
    cookies = {
        name: {"secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"]), "samesite": morsel["samesite"]}
        for name, morsel in response.cookies.items()
    }
    result: dict[str, Any] = {"status": response.status_code, "headers": dict(response.items()), "cookies": cookies}
    if body:
        content = b"".join(response.streaming_content) if response.streaming else response.content
        result["body"] = content.decode("utf-8", "replace")
    return result


def assets(html: str) -> list[str]:
    return sorted({url for url in ASSET.findall(html) if not url.startswith(("#", "data:"))})


def main(out: str) -> None:
    client = Client()
    answers: dict[str, Any] = {}
    admin = f"/{ADMIN_URL}"

    answers["prometheus"] = answer(
        client.get(
            "http://10.0.3.7:8000/metrics",
            HTTP_HOST="10.0.3.7:8000",
            REMOTE_ADDR="10.0.3.9",
            HTTP_ACCEPT=PROMETHEUS_ACCEPT,
            HTTP_USER_AGENT="Prometheus/3.5.0",
            HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS="10",
        ),
        body=True,
    )
    answers["docker_healthcheck"] = answer(
        client.get("http://127.0.0.1:8000/health", HTTP_HOST="127.0.0.1:8000", REMOTE_ADDR="127.0.0.1"), body=True
    )
    answers["localhost_health"] = answer(
        client.get("/health", HTTP_HOST="localhost:8000", REMOTE_ADDR="127.0.0.1"), body=True
    )
    answers["metrics_from_outside"] = answer(
        client.get("/metrics", HTTP_HOST="cc.example.com", REMOTE_ADDR="203.0.113.9")
    )
    answers["admin_over_http"] = answer(
        client.get(f"{admin}login/", HTTP_HOST="cc.example.com", REMOTE_ADDR="10.0.3.2", HTTP_X_FORWARDED_PROTO="http")
    )
    login = client.get(f"{admin}login/", HTTP_HOST="cc.example.com", **VIA_PROXY)
    answers["admin_login"] = answer(login, body=True)
    answers["default_admin_path"] = answer(client.get("/admin/login/", HTTP_HOST="cc.example.com", **VIA_PROXY))
    answers["root"] = answer(client.get("/", HTTP_HOST="cc.example.com", **VIA_PROXY))
    answers["unknown_host"] = answer(client.get(f"{admin}login/", HTTP_HOST="evil.example.net", **VIA_PROXY))
    answers["api_without_key"] = answer(
        client.get("/api/v1/repositories/", HTTP_HOST="api.cc.example.com", **VIA_PROXY)
    )
    preflight = {
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET",
        "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization",
    }
    answers["cors_allowed_origin"] = answer(
        client.options(
            "/api/v1/repositories/", HTTP_HOST="api.cc.example.com", HTTP_ORIGIN=CORS_ORIGIN, **preflight, **VIA_PROXY
        )
    )
    answers["cors_other_origin"] = answer(
        client.options(
            "/api/v1/repositories/",
            HTTP_HOST="api.cc.example.com",
            HTTP_ORIGIN="https://evil.example.net",
            **preflight,
            **VIA_PROXY,
        )
    )
    docs = client.get("/api/docs/", HTTP_HOST="api.cc.example.com", **VIA_PROXY)
    answers["docs"] = answer(docs, body=True)

    # Every file the admin login page and the API docs load, fetched like a browser would.
    fetched: dict[str, Any] = {}
    for page in (answers["admin_login"]["body"], answers["docs"]["body"]):
        for url in assets(page):
            fetched[url] = answer(client.get(url, HTTP_HOST="cc.example.com", **VIA_PROXY))
    answers["assets"] = fetched

    # Logins from two clients behind the proxy: one fails (with a forged hop on the left), one succeeds.
    answers["failed_login"] = answer(
        client.post(
            f"{admin}login/",
            {"username": "admin", "password": "wrong"},
            HTTP_HOST="cc.example.com",
            HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.66",
            **VIA_PROXY,
        )
    )
    answers["login"] = answer(
        client.post(
            f"{admin}login/",
            {"username": "admin", "password": SUPERUSER_PASSWORD, "next": admin},
            HTTP_HOST="cc.example.com",
            HTTP_X_FORWARDED_FOR="198.51.100.7",
            **VIA_PROXY,
        )
    )
    answers["axes"] = {
        "failed_from": sorted(str(a.ip_address) for a in AccessAttempt.objects.all()),
        "logged_in_from": sorted(str(a.ip_address) for a in AccessLog.objects.all()),
    }
    answers["settings"] = {
        "STATICFILES_STORAGE": settings.STORAGES["staticfiles"]["BACKEND"],
        "NUM_PROXIES": settings.NUM_PROXIES,
        "DRF_NUM_PROXIES": settings.REST_FRAMEWORK["NUM_PROXIES"],
    }
    with open(out, "w") as handle:
        json.dump(answers, handle)


if __name__ == "__main__":
    main(sys.argv[1])
