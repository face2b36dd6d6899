"""A real Celery worker process consuming from the real Redis broker, on PostgreSQL."""

from __future__ import annotations

import json
import time
from io import StringIO

import pytest
from django.core.management import call_command

from apps.jobs.choices import JobState
from apps.jobs.models import Job

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


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
    assert job.worker.startswith("test0@")
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
    assert "done by test0@" in out.getvalue()
