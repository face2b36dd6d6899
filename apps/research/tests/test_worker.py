"""Research runs on a real Celery worker through the real Redis broker (a queue of the test's
own, purged after), including a worker child SIGKILLed in the middle of a run."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from apps.jobs.choices import JobState
from apps.jobs.models import Job
from apps.knowledge import index
from apps.research.models import ResearchRun
from apps.research.tests import fakes
from apps.research.tests.factories import ResearchTaskFactory
from tests.celery_worker import pool_processes, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
URL = "/api/v1/research-tasks/"


def finished_run(job_id: str) -> ResearchRun | None:
    return ResearchRun.objects.filter(job_id=job_id, status__in=["succeeded", "failed"]).first()


@pytest.fixture
def worker_env(settings, tmp_path: Path) -> dict[str, str]:
    """The worker uses the test's Chroma store (released by this process first) and media."""
    index.reset_clients()
    return {
        "CHROMA_PATH": str(settings.CHROMA_PATH),
        "CHROMA_URL": "",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "LLM_MODEL": "",
        "ANTHROPIC_API_KEY": "",
        "OPENAI_API_KEY": "",
    }


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def test_a_run_started_through_the_api_completes_on_a_real_worker(
    start_worker, api, httpserver: HTTPServer, worker_env: dict[str, str]
):
    fakes.add_document(
        "Chroma deployment",
        "# Sharing the index\n\nOnly one process may open an on-disk Chroma store; web servers and "
        "workers share a Chroma server.",
    )
    index.reset_clients()
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(fakes.openai_completion())
    log = start_worker(
        **{
            **worker_env,
            "LLM_PROVIDER": "openai",
            "OPENAI_API_KEY": "sk-openai-worker",
            "OPENAI_BASE_URL": httpserver.url_for("/v1"),
        }
    )
    task = ResearchTaskFactory.create(title="Can web servers and workers share one Chroma store?")

    response = api.post(f"{URL}{task.pk}/run/")
    assert response.status_code == 202
    job_id = response.json()["job_id"]

    run = wait_for(lambda: finished_run(job_id), 120, "the run to finish")
    assert run.status == "succeeded", (run.error, log.read_text()[-3000:])
    assert run.summary_method == "llm-openai"
    assert fakes.OPENAI_TEXT in run.report
    assert "**Chroma deployment > Sharing the index**" in run.report
    assert [s["kind"] for s in run.sources] == ["knowledge"]
    job = wait_for(lambda: Job.objects.filter(task_id=job_id, state=JobState.SUCCEEDED).first(), 30, "the job")
    assert job.args == [task.pk]
    assert job.kwargs == {"trigger": "api"}
    assert job.duration is not None
    assert job.retries == 0
    assert job.result is not None
    assert job.result["status"] == "succeeded"
    listed = api.get(f"{URL}{task.pk}/runs/").json()
    assert [r["job_id"] for r in listed["results"]] == [job_id]


@pytest.mark.chaos
def test_a_worker_child_killed_mid_run_is_redelivered_and_completes_once(
    start_worker, api, redis_broker: str, threaded_server: HTTPServer, worker_env: dict[str, str]
):
    arrived, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def messages(request: Request) -> Response:
        calls.append(len(calls) + 1)
        if len(calls) == 1:
            # The first attempt hangs here until its worker child has been killed.
            arrived.set()
            release.wait(120)
        return fakes.json_response(fakes.anthropic_message())

    threaded_server.expect_request("/v1/messages", method="POST").respond_with_handler(messages)
    log = start_worker(
        **{
            **worker_env,
            "LLM_PROVIDER": "anthropic",
            "ANTHROPIC_API_KEY": "sk-ant-worker",
            "ANTHROPIC_BASE_URL": threaded_server.url_for("/").rstrip("/"),
        }
    )
    task = ResearchTaskFactory.create(title="Chroma in production")
    job_id = api.post(f"{URL}{task.pk}/run/").json()["job_id"]

    try:
        assert arrived.wait(120), log.read_text()[-3000:]
        running = ResearchRun.objects.get(job_id=job_id)
        assert (running.status, running.attempts, running.stage) == ("running", 1, "writing the summary")
        children = pool_processes(redis_broker)
        assert len(children) == 1, children
        os.kill(children[0], signal.SIGKILL)
    finally:
        release.set()

    run = wait_for(lambda: finished_run(job_id), 120, "the redelivered run to finish")
    assert run.status == "succeeded", (run.error, log.read_text()[-3000:])
    assert run.attempts == 2
    assert ResearchRun.objects.filter(task=task).count() == 1
    assert run.report.count("# Research report:") == 1
    assert run.report.count(fakes.ANTHROPIC_TEXT) == 1
    assert len(calls) == 2
    job = wait_for(lambda: Job.objects.filter(task_id=job_id, state=JobState.SUCCEEDED).first(), 30, "the job")
    assert job.result is not None
    assert job.result["attempts"] == 2
    assert job.retries == 0  # redelivered by the broker, not a Celery retry
    assert Job.objects.filter(task_id=job_id).count() == 1
