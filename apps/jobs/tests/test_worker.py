"""A real Celery worker process consuming from the real Redis broker, on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from apps.jobs.choices import JobState
from apps.jobs.models import Job
from commandcenter.celery import app

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def database_url_of_the_test_database() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def reset_connections(celery_app: Any) -> None:
    """Celery caches its connection and producer pools (and queue declarations) per app."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app.amqp.__dict__.pop("queues", None)
    celery_app.amqp.__dict__.pop("router", None)


@pytest.fixture
def redis_broker(redis_url: str) -> Iterator[str]:
    """Point this process's Celery app at the real Redis broker, with a queue of its own."""
    queue = f"cc-test-{os.getpid()}-{time.monotonic_ns()}"
    saved = (app.conf.broker_url, app.conf.broker_transport_options, app.conf.task_default_queue)
    app.conf.update(broker_url=redis_url, broker_transport_options={"visibility_timeout": 60}, task_default_queue=queue)
    reset_connections(app)
    try:
        yield queue
    finally:
        with app.connection_for_write() as conn:
            channel: Any = conn.default_channel
            channel.queue_purge(queue)
            channel.client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        app.conf.update(broker_url=saved[0], broker_transport_options=saved[1], task_default_queue=saved[2])
        reset_connections(app)


@pytest.fixture
def worker(
    transactional_db: None, postgres_url: str, redis_broker: str, redis_url: str, tmp_path: Path
) -> Iterator[Path]:
    """A worker process; yields the path of its log (JSON lines)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": database_url_of_the_test_database(),
        "CELERY_BROKER_URL": redis_url,
        "C_FORCE_ROOT": "1",
        "JSON_LOGS": "true",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "commandcenter", "worker", "-Q", redis_broker]
    command += ["--concurrency=1", "--pool=prefork", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield log
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        connection.close()


def wait_for_state(task_id: str, state: str, timeout: float = 30) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.filter(task_id=task_id).first()
        if job is not None and job.state == state:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {task_id} did not reach {state}: {Job.objects.filter(task_id=task_id).first()}")


def test_a_job_started_through_the_api_runs_on_a_real_worker(worker, api):
    response = api.post("/api/v1/jobs/ping/", HTTP_X_REQUEST_ID="req-worker-1")
    assert response.status_code == 202
    job = wait_for_state(response.json()["job_id"], JobState.SUCCEEDED)
    assert job.worker.startswith("celery@")
    assert job.result is not None
    assert job.result["pong"] is True
    assert job.duration is not None
    body = api.get(response.json()["url"]).json()
    assert body["state"] == "succeeded"
    assert body["started_at"] is not None
    # The worker's log lines for this job carry the request id of the request that queued it.
    lines = [json.loads(raw) for raw in worker.read_text().splitlines() if raw.startswith("{")]
    task_lines = [line for line in lines if line.get("task_id") == job.task_id]
    assert task_lines, worker.read_text()[-2000:]
    assert {line.get("request_id") for line in task_lines} == {"req-worker-1"}
    assert any(line["event"] == "task_succeeded" for line in task_lines)


def test_doctor_sees_the_live_worker(worker):
    out = StringIO()
    call_command("doctor", "--worker-timeout", "30", stdout=out)
    assert "workers" in out.getvalue()
    assert "done by celery@" in out.getvalue()
