from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import Client

from commandcenter import health

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def recent_backup() -> None:
    from django.utils import timezone

    from apps.backups.models import BackupRun

    BackupRun.objects.create(timestamp="20261126_020000", status="succeeded", finished_at=timezone.now())


def test_health_reports_every_check():
    response = Client().get("/health")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["status"] == "ok"
    assert {"database", "cache", "broker", "knowledge_index", "embedding_model", "backups"} <= set(body["checks"])
    assert all(check["status"] == "ok" for check in body["checks"].values())


def test_health_answers_any_host_and_no_redirect():
    # Docker's healthcheck asks localhost, Prometheus/Traefik the container IP.
    response = Client().get("/health", HTTP_HOST="172.18.0.5:8000")
    assert response.status_code == 200
    assert Client().get("/health/").status_code == 404


def test_a_failed_database_gives_503(monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", broken_cursor)
    response = Client().get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"]["status"] == "fail"
    assert "connection refused" in body["checks"]["database"]["detail"]
    # The checks that read the database are not tried again (each would wait a connect timeout).
    for name in ("backups", "embedding_model"):
        assert body["checks"][name] == {"status": "warn", "detail": "skipped: the database is unavailable"}


def test_a_failed_cache_is_degraded_not_down(monkeypatch):
    def broken_set(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(health.cache, "set", broken_set)
    response = Client().get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["cache"]["status"] == "fail"


def test_checks_can_be_registered(monkeypatch):
    monkeypatch.setattr(health, "_REGISTRY", dict(health._REGISTRY))

    @health.register("stale-thing")
    def stale() -> health.CheckResult:
        return health.CheckResult(health.WARN, "older than expected")

    body = Client().get("/health").json()
    assert body["status"] == "degraded"
    assert body["checks"]["stale-thing"]["status"] == "warn"
