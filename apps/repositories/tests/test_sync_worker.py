"""Repository sync through a real Celery worker on the real Redis broker: a job, a rate limit
that re-schedules instead of hammering, and a worker child SIGKILLed mid-sync whose job is
redelivered and completes exactly once."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from werkzeug import Request, Response

from apps.jobs.models import Job
from apps.repositories import tasks
from apps.repositories.models import Repository
from apps.repositories.tests.factories import RepositoryFactory
from apps.repositories.tests.github_stub import paths, rate_limited, repository_json, serve_repository
from tests.celery_worker import pool_processes, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def worker_env(httpserver) -> dict[str, str]:
    # A cache of the worker's own (no Redis): cached answers and rate-limit state stay in this test.
    return {"GITHUB_API_URL": httpserver.url_for("/").rstrip("/"), "GITHUB_CACHE_SECONDS": "0", "REDIS_URL": ""}


def events(log: Path, name: str) -> list[dict]:
    found = []
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == name:
            found.append(record)
    return found


def test_a_sync_job_runs_in_a_real_worker(start_worker, httpserver):
    repository = RepositoryFactory.create(owner="octo", name="app", stars=0)
    serve_repository(httpserver, "octo/app")
    log = start_worker(**worker_env(httpserver))

    result = tasks.sync_repository.delay(repository.pk)

    job = wait_for(lambda: Job.objects.filter(task_id=result.id, state="succeeded").first(), 60, "the job")
    assert job.args == [repository.pk]
    assert job.duration is not None
    assert job.result == {"repository": "octo/app", "ok": True, "changed": True, "error": ""}
    repository.refresh_from_db()
    assert repository.stars == 80
    assert repository.sync_status == "ok"
    assert len(events(log, "repository_synced")) == 1


def test_an_exhausted_rate_limit_reschedules_the_job_for_the_reset(start_worker, httpserver):
    repository = RepositoryFactory.create(owner="octo", name="app")
    httpserver.expect_request("/repos/octo/app").respond_with_handler(lambda request: rate_limited(reset_in=3600))
    log = start_worker(**worker_env(httpserver))

    result = tasks.sync_repository.delay(repository.pk)

    job = wait_for(
        lambda: Job.objects.filter(task_id=result.id, state="retried", error__contains="rate limit").first(),
        60,
        "the retry",
    )
    assert "rate limit exhausted until" in job.error
    assert job.retries == 1
    rescheduled = wait_for(lambda: events(log, "repository_sync_rescheduled"), 10, "the reschedule log")
    eta = rescheduled[0]["eta"]
    time.sleep(2)  # had the job been retried with a short backoff, GitHub would be asked again by now
    assert paths(httpserver) == ["/repos/octo/app"]
    assert eta > time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() + 3500))
    repository.refresh_from_db()
    assert repository.sync_status == "pending"
    assert "rate limit" in repository.sync_error


@pytest.mark.chaos
def test_a_worker_child_killed_mid_sync_is_redelivered_and_syncs_once(start_worker, httpserver, redis_broker):
    repository = RepositoryFactory.create(owner="octo", name="app", stars=0)
    arrived, release = threading.Event(), threading.Event()
    calls = {"n": 0}

    def first_call_hangs(request: Request) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:
            arrived.set()
            release.wait(60)
        return Response(json.dumps(repository_json("octo/app")), content_type="application/json")

    httpserver.expect_request("/repos/octo/app").respond_with_handler(first_call_hangs)
    serve_repository(httpserver, "octo/app")  # commit and release
    log = start_worker(**worker_env(httpserver))

    result = tasks.sync_repository.delay(repository.pk)
    assert arrived.wait(60), "the worker never reached GitHub"
    children = wait_for(lambda: pool_processes(redis_broker), 10, "the worker's pool process")
    assert len(children) == 1
    os.kill(children[0], signal.SIGKILL)
    release.set()

    wait_for(lambda: Job.objects.filter(task_id=result.id, state="succeeded").exists(), 90, "the redelivered job")
    repository = Repository.objects.get(pk=repository.pk)
    assert repository.stars == 80
    assert repository.sync_status == "ok"
    assert paths(httpserver).count("/repos/octo/app") == 2  # the killed attempt and the redelivery
    assert len(events(log, "repository_synced")) == 1
