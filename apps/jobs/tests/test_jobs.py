from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from celery import shared_task
from django.utils import timezone

from apps.jobs import services
from apps.jobs.choices import JobState
from apps.jobs.models import Job
from apps.jobs.tasks import ping, prune_job_history

pytestmark = pytest.mark.django_db


@shared_task(name="tests.jobs.explode")
def explode(reason: str) -> None:
    raise RuntimeError(reason)


@shared_task(name="tests.jobs.flaky", bind=True, max_retries=1, default_retry_delay=0)
def flaky(self: Any) -> None:
    raise self.retry(exc=ConnectionError("upstream timed out"))


def test_publishing_records_a_queued_job_with_its_arguments():
    result = explode.delay("why not")
    job = Job.objects.get(task_id=result.id)
    assert job.state == JobState.QUEUED
    assert job.name == "tests.jobs.explode"
    assert job.args == ["why not"]
    assert job.queue == "celery"


def test_a_successful_run_records_result_and_duration():
    result = ping.apply()
    job = Job.objects.get(task_id=result.id)
    assert job.state == JobState.SUCCEEDED
    assert job.result is not None
    assert job.result["pong"] is True
    assert job.started_at is not None
    assert job.finished_at is not None
    assert job.duration is not None
    assert job.duration >= 0


def test_a_failed_run_records_the_error_and_traceback():
    result = explode.apply(args=("disk full",))
    job = Job.objects.get(task_id=result.id)
    assert job.state == JobState.FAILED
    assert job.error == "RuntimeError: disk full"
    assert "Traceback" in job.traceback
    assert job.args == ["disk full"]


def test_retries_are_counted_until_the_job_gives_up():
    result = flaky.apply()  # eager: the retry runs at once, then max_retries is reached
    job = Job.objects.get(task_id=result.id)
    assert job.state == JobState.FAILED
    assert job.retries == 1
    assert "upstream timed out" in job.error


def test_prune_keeps_recent_and_unfinished_jobs(settings):
    settings.JOB_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    Job.objects.create(task_id="old-done", name="x", state=JobState.SUCCEEDED, queued_at=old)
    Job.objects.create(task_id="old-queued", name="x", state=JobState.QUEUED, queued_at=old)
    Job.objects.create(task_id="new-done", name="x", state=JobState.FAILED)
    result = prune_job_history.apply()
    assert result.get() == {"deleted": 1}
    assert set(Job.objects.values_list("task_id", flat=True)) >= {"old-queued", "new-done"}
    assert not Job.objects.filter(task_id="old-done").exists()


def test_the_job_api_shows_state_and_errors(api):
    result = explode.apply(args=("bad input",))
    response = api.get(f"/api/v1/jobs/{result.id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["job_id"] == result.id
    assert body["state"] == "failed"
    assert body["error"] == "RuntimeError: bad input"
    assert "traceback" not in body
    listed = api.get("/api/v1/jobs/?state=failed").json()
    assert [j["job_id"] for j in listed["results"]] == [result.id]
    assert api.get("/api/v1/jobs/not-a-job/").status_code == 404


def test_starting_work_answers_202_with_the_job_body(api):
    response = api.post("/api/v1/jobs/ping/")
    assert response.status_code == 202
    body = response.json()
    assert body == {"job_id": body["job_id"], "status": "queued", "url": f"/api/v1/jobs/{body['job_id']}/"}
    assert response["Location"] == body["url"]
    assert Job.objects.get(task_id=body["job_id"]).state == JobState.QUEUED
    assert api.get(body["url"]).json()["state"] == "queued"


def test_only_staff_may_start_a_ping(make_user, client_for):
    assert client_for(make_user("jobs.view_job")).post("/api/v1/jobs/ping/").status_code == 403
    staff = make_user(is_staff=True)
    assert client_for(staff).post("/api/v1/jobs/ping/").status_code == 202
    assert client_for(staff, read_only=True).post("/api/v1/jobs/ping/").status_code == 403


def test_accepted_body_helper():
    response = services.accepted("abc")
    assert response.status_code == 202
    assert response.data == {"job_id": "abc", "status": "queued", "url": "/api/v1/jobs/abc/"}
