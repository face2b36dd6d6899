"""Research runs, in process: evidence, the report, the providers' protocols, retries,
permanent failures, idempotency and the metrics."""

from __future__ import annotations

import datetime as dt

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone
from prometheus_client import REGISTRY
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from apps.repositories.tests.factories import RepositoryFactory
from apps.research import llm, runs, services, tasks
from apps.research.choices import ResearchTaskStatus
from apps.research.models import ResearchRun
from apps.research.tests import fakes
from apps.research.tests.factories import ResearchRunFactory, ResearchTaskFactory
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db
RECENT = timezone.now() - dt.timedelta(minutes=1)


def gauge() -> float:
    return REGISTRY.get_sample_value("commandcenter_active_research_tasks") or 0.0


def observations() -> float:
    return (
        REGISTRY.get_sample_value("commandcenter_research_task_duration_seconds_count", {"task_type": "research_run"})
        or 0.0
    )


def run_now(task, **kwargs):
    """Queue a run the way the API does, then execute its job here (retries included)."""
    run = services.start_run(task, **kwargs)
    result = tasks.run_research.apply(args=(task.pk,), task_id=run.job_id)
    run.refresh_from_db()
    return run, result


@pytest.fixture
def anthropic_server(settings, httpserver: HTTPServer) -> HTTPServer:
    settings.ANTHROPIC_API_KEY = "sk-ant-test"
    settings.ANTHROPIC_BASE_URL = httpserver.url_for("/").rstrip("/")
    return httpserver


@pytest.fixture
def openai_server(settings, httpserver: HTTPServer) -> HTTPServer:
    settings.OPENAI_API_KEY = "sk-openai-test"
    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    return httpserver


def test_it_writes_an_extractive_report_from_the_evidence():
    repository = RepositoryFactory.create(
        owner="chroma-core",
        name="chroma",
        stars=15200,
        forks=1300,
        last_synced_at=RECENT,
        sync_status="ok",
        last_commit_sha="0123456789abcdef",
        last_commit_message="Fix | the HNSW index\n\nlong body",
        last_commit_date=RECENT,
    )
    tech = TechnologyFactory.create(
        title="ChromaDB",
        vendor="Chroma",
        description="Open-source embedding database.",
        documentation_url="https://docs.trychroma.com/",
        repositories=[repository],
    )
    task = ResearchTaskFactory.create(
        title="Is Chroma safe to share between web and worker processes?",
        description="We need to know how processes share the vector index.",
        technology=tech,
        progress=20,
    )
    shared = fakes.add_document(
        "Chroma deployment",
        "# Sharing the index\n\nOnly one process may open an on-disk Chroma store. When the web server "
        "and the workers both need the vector index, they talk to a Chroma server instead.",
    )
    fakes.add_document("Cron syntax", "# Cron\n\nFive fields: minute, hour, day of month, month, day of week.")
    before = observations()

    run, result = run_now(task)

    assert result.state == "SUCCESS", result.traceback
    assert result.result["status"] == "succeeded"
    assert run.status == "succeeded"
    assert run.summary_method == "extractive"
    assert run.model == ""
    assert (run.progress, run.stage, run.attempts, run.error) == (100, "done", 1, "")
    assert run.duration is not None
    assert run.finished_at is not None
    report = run.report
    assert report.startswith(f"# Research report: {task.title}\n")
    assert "## Question\n\nIs Chroma safe to share between web and worker processes?\n\nWe need to know" in report
    assert "## Summary (extractive: top passages, no language model)" in report
    assert "[1] **[ChromaDB](https://docs.trychroma.com/)** (Chroma)" in report
    assert "[chroma-core/chroma](https://github.com/chroma-core/chroma) | 15200 | 1300" in report
    assert "`0123456` " in report
    assert "Fix \\| the HNSW index" in report  # a pipe cannot break the table
    assert "**Chroma deployment > Sharing the index**" in report
    assert "> Only one process may open an on-disk Chroma store." in report
    # The best passage is quoted first in the summary and cited by its number.
    summary = report.split("## Summary", 1)[1].split("## Evidence", 1)[0]
    assert summary.index("Chroma deployment") < summary.index("Cron syntax")
    assert "[3]:" in summary
    kinds = [source["kind"] for source in run.sources]
    assert kinds == ["technology", "repository", "knowledge", "knowledge"]
    assert run.sources[1] == {
        "kind": "repository",
        "title": "chroma-core/chroma",
        "url": "https://github.com/chroma-core/chroma",
        "score": None,
    }
    passage = run.sources[2]
    assert passage["title"] == "Chroma deployment > Sharing the index"
    assert passage["url"] == f"/admin/knowledge/document/{shared.pk}/change/"
    assert 0 < passage["score"] <= 1
    assert run.sources[2]["score"] > run.sources[3]["score"]
    assert "## Sources\n\n1. technology: [ChromaDB](https://docs.trychroma.com/)" in report
    # The task follows the run's progress (never to 100: the run does not complete it).
    task.refresh_from_db()
    assert task.progress == 90
    assert task.status == ResearchTaskStatus.PENDING
    assert observations() == before + 1
    assert gauge() == 0


def test_a_run_without_links_or_documents_says_so():
    task = ResearchTaskFactory.create(title="Anything new about feature flags?", description="")
    run, _ = run_now(task)
    assert run.status == "succeeded"
    assert "No technology is linked to the task." in run.report
    assert "No repository is linked to the task or its technology." in run.report
    assert "No knowledge-base passage matched the question." in run.report
    assert "nothing to quote" in run.report
    assert run.sources == []


def test_an_unreachable_knowledge_base_is_noted_and_the_run_goes_on(settings, httpserver: HTTPServer):
    # Nothing listens there: the Chroma client's connection is refused.
    settings.CHROMA_URL = "http://127.0.0.1:9"
    task = ResearchTaskFactory.create(title="Loki retention")
    run, result = run_now(task)
    assert result.state == "SUCCESS"
    assert run.status == "succeeded"
    assert "## Notes\n\n- The knowledge base could not be searched (" in run.report
    assert not [s for s in run.sources if s["kind"] == "knowledge"]


def test_a_stale_repository_is_synced_from_github_first(settings, httpserver: HTTPServer):
    settings.GITHUB_API_URL = httpserver.url_for("").rstrip("/")
    settings.GITHUB_CACHE_SECONDS = 0
    repository = RepositoryFactory.create(owner="grafana", name="loki", stars=1, last_synced_at=None)
    httpserver.expect_request("/repos/grafana/loki").respond_with_json(
        {
            "id": 4242,
            "full_name": "grafana/loki",
            "html_url": "https://github.com/grafana/loki",
            "description": "Like Prometheus, but for logs.",
            "default_branch": "main",
            "stargazers_count": 24000,
            "forks_count": 3400,
            "open_issues_count": 2100,
            "language": "Go",
        }
    )
    httpserver.expect_request("/repos/grafana/loki/commits/main").respond_with_json(
        {
            "sha": "fedcba9876543210",
            "commit": {"message": "Speed up queries", "author": {"name": "A", "date": "2026-11-20T10:00:00Z"}},
        }
    )
    httpserver.expect_request("/repos/grafana/loki/releases/latest").respond_with_json(
        {"tag_name": "v3.9.0", "name": "3.9.0", "published_at": "2026-11-01T00:00:00Z", "html_url": ""}
    )
    task = ResearchTaskFactory.create(repository=repository)

    run, _ = run_now(task)

    assert run.status == "succeeded"
    repository.refresh_from_db()
    assert repository.stars == 24000
    assert repository.last_synced_at is not None
    row = next(line for line in run.report.splitlines() if "grafana/loki" in line)
    assert "| 24000 | 3400 | 2100 | Go | `fedcba9` 2026-11-20 Speed up queries | v3.9.0 |" in row
    assert "(synced by this run)" in row


def test_it_summarizes_with_anthropic_through_the_messages_api(anthropic_server: HTTPServer):
    seen: list[Request] = []
    during: list[float] = []

    def answer(request: Request) -> Response:
        seen.append(request)
        during.append(gauge())
        return fakes.json_response(fakes.anthropic_message())

    anthropic_server.expect_request("/v1/messages", method="POST").respond_with_handler(answer)
    tech = TechnologyFactory.create(title="ChromaDB")
    task = ResearchTaskFactory.create(title="Chroma in production", technology=tech)

    run, result = run_now(task)

    assert result.state == "SUCCESS", result.traceback
    assert run.summary_method == "llm-anthropic"
    assert run.model == "claude-sonnet-5-5"
    assert "## Summary (llm-anthropic: claude-sonnet-5-5, from the evidence below)" in run.report
    assert fakes.ANTHROPIC_TEXT in run.report
    assert len(seen) == 1
    # The key goes in the header this SDK version uses for it.
    headers = seen[0].headers
    assert "sk-ant-test" in headers.get("x-api-key", "") + headers.get("Authorization", "")
    assert headers["anthropic-version"]
    body = fakes.request_json(seen[0])
    assert body["model"] == "claude-sonnet-5-5"
    assert body["max_tokens"] == 1500
    assert "only the evidence given" in body["system"]
    prompt = body["messages"][0]["content"]
    assert body["messages"][0]["role"] == "user"
    assert prompt.startswith("Research question:\n\nChroma in production")
    # Without a documentation or web site link, the technology links to its admin page.
    assert f"[1] **[ChromaDB](/admin/technologies/technology/{tech.pk}/change/)**" in prompt
    assert during == [1.0]  # the gauge counts the run while it works
    assert gauge() == 0


def test_it_summarizes_with_openai_through_chat_completions(settings, openai_server: HTTPServer):
    settings.LLM_MODEL = "gpt-5.4"
    seen: list[Request] = []

    def answer(request: Request) -> Response:
        seen.append(request)
        return fakes.json_response(fakes.openai_completion(model="gpt-5.4"))

    openai_server.expect_request("/v1/chat/completions", method="POST").respond_with_handler(answer)
    task = ResearchTaskFactory.create(title="Chroma server or embedded?")

    run, _ = run_now(task)

    assert run.status == "succeeded"
    assert (run.summary_method, run.model) == ("llm-openai", "gpt-5.4")
    assert fakes.OPENAI_TEXT in run.report
    assert seen[0].headers["Authorization"] == "Bearer sk-openai-test"
    body = fakes.request_json(seen[0])
    assert body["model"] == "gpt-5.4"
    assert body["max_completion_tokens"] == 1500
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "Chroma server or embedded?" in body["messages"][1]["content"]


def test_the_provider_follows_the_configured_keys(settings):
    assert llm.provider() == "extractive"
    settings.OPENAI_API_KEY = "sk-openai"
    assert llm.provider() == "openai"
    settings.ANTHROPIC_API_KEY = "sk-ant"
    assert llm.provider() == "anthropic"
    settings.LLM_PROVIDER = "extractive"
    assert llm.provider() == "extractive"
    settings.LLM_PROVIDER = "openai"
    assert (llm.provider(), llm.model_name()) == ("openai", "gpt-5.4-mini")


def test_a_server_error_is_retried_then_the_run_succeeds(anthropic_server: HTTPServer):
    anthropic_server.expect_ordered_request("/v1/messages", method="POST").respond_with_response(
        fakes.anthropic_error(500)
    )
    anthropic_server.expect_ordered_request("/v1/messages", method="POST").respond_with_json(fakes.anthropic_message())
    task = ResearchTaskFactory.create()

    run, result = run_now(task)

    assert result.state == "SUCCESS"
    assert run.status == "succeeded"
    assert run.attempts == 2
    assert run.error == ""
    assert len(anthropic_server.log) == 2
    assert ResearchRun.objects.count() == 1
    anthropic_server.check_assertions()
    assert gauge() == 0


def test_retries_running_out_fail_the_run(settings, anthropic_server: HTTPServer):
    anthropic_server.expect_request("/v1/messages", method="POST").respond_with_response(fakes.anthropic_error(529))
    task = ResearchTaskFactory.create()

    run, result = run_now(task)

    assert result.state == "FAILURE"
    assert run.status == "failed"
    assert run.attempts == settings.RESEARCH_MAX_RETRIES + 1
    assert run.error.startswith(f"gave up after {settings.RESEARCH_MAX_RETRIES + 1} attempts: OverloadedError: ")
    assert "529" in run.error
    assert run.report == ""
    assert gauge() == 0


def test_a_rejected_key_fails_the_run_with_the_reason_and_no_retry(anthropic_server: HTTPServer):
    anthropic_server.expect_request("/v1/messages", method="POST").respond_with_response(fakes.anthropic_error(401))
    task = ResearchTaskFactory.create()
    before = observations()

    run, result = run_now(task)

    assert result.state == "FAILURE"
    assert isinstance(result.result, runs.RunFailed)
    assert run.status == "failed"
    assert run.attempts == 1
    assert run.error.startswith("AuthenticationError: ")
    assert "401" in run.error
    assert run.finished_at is not None
    assert run.duration is not None
    assert len(anthropic_server.log) == 1
    assert gauge() == 0  # back to zero after a failure too
    assert observations() == before + 1


def test_a_soft_time_limit_ends_the_run_as_failed(monkeypatch):
    def too_slow(query, notes):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(runs, "passage_evidence", too_slow)
    run, result = run_now(ResearchTaskFactory.create())
    assert result.state == "FAILURE"
    assert run.status == "failed"
    assert run.error == "time limit exceeded (RESEARCH_TIME_LIMIT=900 s)"
    assert gauge() == 0


def test_a_deleted_task_fails_the_job_without_a_run():
    task = ResearchTaskFactory.create()
    run = services.start_run(task)
    job_id, task_pk = run.job_id, task.pk
    task.delete()
    result = tasks.run_research.apply(args=(task_pk,), task_id=job_id)
    assert result.state == "FAILURE"
    assert f"research task {task_pk} does not exist" in str(result.result)
    assert not ResearchRun.objects.exists()


def test_a_redelivered_job_returns_the_finished_run_without_redoing_it(anthropic_server: HTTPServer):
    anthropic_server.expect_request("/v1/messages", method="POST").respond_with_json(fakes.anthropic_message())
    task = ResearchTaskFactory.create()
    run, first = run_now(task)
    report = run.report

    again = tasks.run_research.apply(args=(task.pk,), task_id=run.job_id)

    assert again.state == "SUCCESS"
    assert again.result == first.result
    assert ResearchRun.objects.count() == 1
    run.refresh_from_db()
    assert (run.report, run.attempts) == (report, 1)
    assert len(anthropic_server.log) == 1


def test_a_job_redelivered_while_running_redoes_the_same_run():
    # What a worker child killed mid-run leaves: the run "running", the message back in the queue.
    task = ResearchTaskFactory.create()
    run = ResearchRunFactory.create(task=task, status="running", attempts=1, progress=40, started_at=RECENT)

    result = tasks.run_research.apply(args=(task.pk,), task_id=run.job_id)

    assert result.state == "SUCCESS"
    assert ResearchRun.objects.count() == 1
    run.refresh_from_db()
    assert (run.status, run.attempts, run.progress) == ("succeeded", 2, 100)
    assert run.report.count("# Research report:") == 1


def test_a_job_queued_by_hand_makes_its_own_run():
    task = ResearchTaskFactory.create()
    result = tasks.run_research.apply(args=(task.pk,), kwargs={"trigger": "schedule"}, task_id="hand-made-job")
    assert result.state == "SUCCESS"
    run = ResearchRun.objects.get()
    assert (run.job_id, run.trigger, run.status) == ("hand-made-job", "schedule", "succeeded")


def test_a_run_that_never_finished_is_failed_by_the_task_failure_hook():
    run = ResearchRunFactory.create(status="running")
    assert runs.mark_failed(run.job_id, "time limit exceeded (RESEARCH_TIME_LIMIT=900 s)")
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error.startswith("time limit exceeded")
    # A finished run is left as it is.
    assert not runs.mark_failed(run.job_id, "something else")
    run.refresh_from_db()
    assert run.error.startswith("time limit exceeded")
