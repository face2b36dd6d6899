"""PostgreSQL stopped, crashed or hung under a running app (gunicorn, 2 workers, DEBUG on so
that a stack trace would show if one escaped): ``/health`` says 503 naming the database within
2 s, the API answers JSON 503 and the admin a 503 page, none with a stack trace, and the same
gunicorn workers answer normally as soon as PostgreSQL is back."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.chaos.servers import Answer, Postgres, Site, api, gunicorn, request, throwaway_postgres
from tests.live import app_env, manage

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

WORKERS = 2
CONNECT_TIMEOUT = 2
PASSWORD = "a-long-password-for-tests"  # tests.live.app_env's DJANGO_SUPERUSER_PASSWORD
STACK_TRACE = re.compile(rb"Traceback|File \"/|psycopg|django/db/", re.IGNORECASE)


@dataclass
class Deployment:
    site: Site
    postgres: Postgres


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("postgres-down")
    (tmp / "prometheus").mkdir()
    with throwaway_postgres() as postgres:
        env = app_env(
            tmp,
            DATABASE_URL=postgres.create_database("commandcenter"),
            DB_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
            CELERY_BROKER_URL="memory://",
            CHROMA_PATH=str(tmp / "chroma"),
            BACKUP_DIR=str(tmp / "backups"),
            PROMETHEUS_MULTIPROC_DIR=str(tmp / "prometheus"),
        )
        manage(env, "migrate", "--noinput")
        manage(env, "ensure_superuser")
        key = manage(env, "create_api_key", "admin").strip()
        with gunicorn(env, tmp / "gunicorn.log", key, workers=WORKERS) as site:
            assert api(site.app, "POST", "/api/v1/technologies/", {"title": "Before the outage"}).status == 201
            yield Deployment(site, postgres)


def every_worker(site: Site, method: str, path: str) -> list[Answer]:
    """Enough requests that each gunicorn worker answers some."""
    return [api(site.app, method, path) for _ in range(WORKERS * 3)]


def assert_database_unavailable(answer: Answer, content_type: str) -> None:
    assert answer.status == 503, answer.body[:500]
    assert answer.headers["content-type"].startswith(content_type)
    assert answer.headers.get("retry-after") == "5"
    assert not STACK_TRACE.search(answer.body), answer.body[:2000]


def admin_login_form(site: Site) -> tuple[str, str]:
    """The CSRF cookie and form token of the admin login page (no database needed)."""
    page = request(site.app.port, "GET", "/admin/login/")
    assert page.status == 200
    cookie = re.search(r"csrftoken=([^;]+)", page.headers["set-cookie"])
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
    assert cookie
    assert token
    return cookie.group(1), token.group(1).decode()


def admin_login(site: Site, cookie: str, token: str) -> Answer:
    form = urlencode({"csrfmiddlewaretoken": token, "username": "admin", "password": PASSWORD, "next": "/admin/"})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={cookie}"}
    return request(site.app.port, "POST", "/admin/login/", form.encode(), headers)


def assert_recovered(deployment: Deployment, workers_before: set[int]) -> None:
    site = deployment.site
    for answer in every_worker(site, "GET", "/api/v1/technologies/"):
        assert answer.status == 200, answer.body[:500]
        assert "Before the outage" in [t["title"] for t in answer.json()["results"]]
    health = request(site.app.port, "GET", "/health")
    assert health.status == 200
    assert health.json()["checks"]["database"]["status"] == "ok"
    # The same processes: nothing was restarted, by gunicorn or anyone else.
    assert site.workers == workers_before


def test_it_answers_503_while_postgresql_is_down_and_recovers_without_a_restart(deployment: Deployment):
    site, postgres = deployment.site, deployment.postgres
    workers_before = site.workers
    assert len(workers_before) == WORKERS
    every_worker(site, "GET", "/health")  # each worker has its connection and its imports
    cookie, token = admin_login_form(site)

    postgres.stop("immediate")  # a crash: connections cut, no shutdown checkpoint
    try:
        health = request(site.app.port, "GET", "/health")
        assert health.status == 503
        assert health.seconds < 2.0, f"/health took {health.seconds:.2f} s"
        body = health.json()
        assert body["status"] == "fail"
        assert body["checks"]["database"]["status"] == "fail"
        assert str(postgres.port) in body["checks"]["database"]["detail"]
        assert body["checks"]["cache"]["status"] == "ok"

        for answer in every_worker(site, "GET", "/api/v1/technologies/"):
            assert_database_unavailable(answer, "application/json")
            assert "database is unreachable" in answer.json()["detail"]
        created = api(site.app, "POST", "/api/v1/technologies/", {"title": "During the outage"})
        assert_database_unavailable(created, "application/json")
        assert_database_unavailable(api(site.app, "GET", "/api/v1/jobs/"), "application/json")

        login = admin_login(site, cookie, token)
        assert_database_unavailable(login, "text/html")
        assert b"database is unreachable" in login.body
    finally:
        postgres.start()

    assert_recovered(deployment, workers_before)
    assert admin_login(site, cookie, token).status == 302  # logged in


@contextmanager
def hung_server(port: int) -> Iterator[None]:
    """A listener that completes TCP handshakes and never answers: a frozen database host."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        yield


def test_a_hung_postgresql_costs_a_request_the_connect_timeout_then_503(deployment: Deployment, tmp_path: Path):
    site, postgres = deployment.site, deployment.postgres
    workers_before = site.workers
    postgres.stop("fast")
    try:
        with hung_server(postgres.port):
            answer = api(site.app, "GET", "/api/v1/technologies/")
            assert_database_unavailable(answer, "application/json")
            # Without DB_CONNECT_TIMEOUT the driver would wait for minutes.
            assert CONNECT_TIMEOUT - 0.5 < answer.seconds < CONNECT_TIMEOUT + 2.5, answer.seconds
            health = request(site.app.port, "GET", "/health")
            assert health.status == 503
            assert health.json()["checks"]["database"]["status"] == "fail"
            assert "timeout" in health.json()["checks"]["database"]["detail"].lower()
    finally:
        postgres.start()
    assert_recovered(deployment, workers_before)
