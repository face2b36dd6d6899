"""Starting research runs (API, admin, Beat) and reading them back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from apps.jobs.models import Job
from apps.research import services, tasks
from apps.research.models import ResearchRun
from apps.research.tests.factories import ResearchRunFactory, ResearchTaskFactory

URL = "/api/v1/research-tasks/"
ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.django_db
def test_post_run_answers_202_with_the_job(api, superuser, django_capture_on_commit_callbacks):
    task = ResearchTaskFactory.create()
    with django_capture_on_commit_callbacks(execute=True) as published:
        response = api.post(f"{URL}{task.pk}/run/")
    assert response.status_code == 202, response.json()
    body = response.json()
    run = ResearchRun.objects.get()
    assert body == {
        "job_id": run.job_id,
        "status": "queued",
        "url": f"/api/v1/jobs/{run.job_id}/",
        "run_id": run.pk,
    }
    assert response["Location"] == body["url"]
    assert (run.task, run.status, run.trigger, run.requested_by) == (task, "queued", "api", superuser)
    assert len(published) == 1
    # The published job is in the job list with its arguments.
    job = Job.objects.get(task_id=run.job_id)
    assert (job.name, job.state, job.args, job.kwargs) == (
        "apps.research.tasks.run_research",
        "queued",
        [task.pk],
        {"trigger": "api"},
    )
    assert api.get(body["url"]).json()["args"] == [task.pk]


@pytest.mark.django_db
def test_the_run_is_published_only_after_the_transaction_commits(django_capture_on_commit_callbacks):
    task = ResearchTaskFactory.create()
    with django_capture_on_commit_callbacks(execute=False) as pending:
        run = services.start_run(task)
        assert not Job.objects.filter(task_id=run.job_id).exists()
    assert len(pending) == 1


@pytest.mark.django_db
def test_a_job_that_cannot_be_queued_fails_its_run(monkeypatch, django_capture_on_commit_callbacks):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.run_research, "apply_async", broker_down)
    task = ResearchTaskFactory.create()
    with pytest.raises(ConnectionError), django_capture_on_commit_callbacks(execute=True):
        services.start_run(task)
    run = ResearchRun.objects.get()
    assert run.status == "failed"
    assert run.error == "could not queue the job: broker unreachable"


@pytest.mark.django_db
def test_runs_are_listed_newest_first_with_reports_and_sources(api):
    task = ResearchTaskFactory.create()
    old = ResearchRunFactory.create(task=task, status="failed", error="AuthenticationError: 401")
    new = ResearchRunFactory.create(
        task=task,
        status="succeeded",
        report="# Research report: x\n",
        sources=[{"kind": "knowledge", "title": "Doc", "url": "/admin/knowledge/document/1/change/", "score": 0.5}],
        summary_method="extractive",
    )
    ResearchRunFactory.create()  # another task's run
    response = api.get(f"{URL}{task.pk}/runs/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [r["id"] for r in body["results"]] == [new.pk, old.pk]
    first = body["results"][0]
    assert first["report"] == "# Research report: x\n"
    assert first["sources"][0]["score"] == 0.5
    assert first["job_url"] == f"/api/v1/jobs/{new.job_id}/"
    assert body["results"][1]["error"] == "AuthenticationError: 401"
    assert api.get(f"{URL}{task.pk}/runs/?page_size=1").json()["next"] is not None
    assert api.get(f"{URL}999999/runs/").status_code == 404
    assert api.post(f"{URL}999999/run/").status_code == 404


@pytest.mark.django_db
def test_runs_need_credentials_and_permissions(make_user, client_for):
    task = ResearchTaskFactory.create()
    anonymous = Client().post(f"{URL}{task.pk}/run/")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "Bearer"
    assert Client().get(f"{URL}{task.pk}/runs/").status_code == 401

    nobody = client_for(make_user())
    assert nobody.get(f"{URL}{task.pk}/runs/").status_code == 403
    viewer = client_for(make_user("research.view_researchtask"))
    assert viewer.get(f"{URL}{task.pk}/runs/").status_code == 200
    assert viewer.post(f"{URL}{task.pk}/run/").status_code == 403
    adder = client_for(make_user("research.view_researchtask", "research.add_researchtask"))
    assert adder.post(f"{URL}{task.pk}/run/").status_code == 403
    changer = make_user("research.view_researchtask", "research.change_researchtask")
    assert client_for(changer, read_only=True).post(f"{URL}{task.pk}/run/").status_code == 403
    assert client_for(changer).post(f"{URL}{task.pk}/run/").status_code == 202
    assert ResearchRun.objects.count() == 1


@pytest.mark.django_db
def test_is_recurring_is_part_of_the_task_and_filters(api):
    created = api.post(URL, {"title": "Weekly radar check", "is_recurring": True}).json()
    assert created["is_recurring"] is True
    ResearchTaskFactory.create(title="once")
    titles = [t["title"] for t in api.get(f"{URL}?is_recurring=true").json()["results"]]
    assert titles == ["Weekly radar check"]
    assert api.get(f"{URL}?is_recurring=maybe").status_code == 400


@pytest.mark.django_db
def test_the_admin_action_queues_runs_and_links_their_jobs(superuser, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(superuser)
    tasks_ = ResearchTaskFactory.create_batch(2)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/research/researchtask/",
            {"action": "run_research", "_selected_action": [t.pk for t in tasks_]},
            follow=True,
        )
    assert response.status_code == 200
    runs = list(ResearchRun.objects.order_by("task_id"))
    assert [r.task_id for r in runs] == [t.pk for t in tasks_]
    assert {r.trigger for r in runs} == {"admin"}
    message = next(iter(response.context["messages"])).message
    assert "Research run queued for 2 task(s)" in message
    assert f'href="/admin/research/researchrun/{runs[0].pk}/change/"' in message
    assert f'href="/admin/jobs/job/?q={runs[0].job_id}"' in message
    assert Job.objects.filter(task_id__in=[r.job_id for r in runs]).count() == 2


@pytest.mark.django_db
def test_the_admin_shows_runs_inline_and_the_report_readable(superuser):
    client = Client()
    client.force_login(superuser)
    run = ResearchRunFactory.create(
        status="succeeded",
        report="# Research report: <b>x</b>\n\n## Summary (extractive: top passages, no language model)\n",
        sources=[
            {"kind": "repository", "title": "grafana/loki", "url": "https://github.com/grafana/loki", "score": None}
        ],
    )
    page = client.get(f"/admin/research/researchtask/{run.task_id}/change/").content.decode()
    assert run.job_id[:8] in page
    assert "Research runs" in page
    detail = client.get(f"/admin/research/researchrun/{run.pk}/change/").content.decode()
    assert "<pre" in detail
    assert "# Research report: &lt;b&gt;x&lt;/b&gt;" in detail  # escaped, never rendered as HTML
    assert '<a href="https://github.com/grafana/loki" rel="noopener noreferrer">grafana/loki</a>' in detail
    listing = client.get("/admin/research/researchrun/?status=succeeded&q=Research").content.decode()
    assert run.job_id in listing


@pytest.mark.django_db
def test_beat_queues_one_run_per_open_recurring_task(django_capture_on_commit_callbacks):
    weekly = ResearchTaskFactory.create(is_recurring=True)
    busy = ResearchTaskFactory.create(is_recurring=True)
    ResearchRunFactory.create(task=busy, status="running")
    ResearchTaskFactory.create(is_recurring=True, status="completed")
    ResearchTaskFactory.create(is_recurring=False)
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.run_recurring_research.apply(task_id="beat-job-1")
    assert result.result == {"queued": 1, "skipped": 1}
    run = ResearchRun.objects.get(task=weekly)
    assert run.trigger == "schedule"
    assert Job.objects.filter(task_id=run.job_id, name="apps.research.tasks.run_research").exists()
    # The same Beat job redelivered queues nothing twice.
    with django_capture_on_commit_callbacks(execute=True):
        again = tasks.run_recurring_research.apply(task_id="beat-job-1")
    assert again.result == {"queued": 0, "skipped": 2}
    assert ResearchRun.objects.filter(task=weekly).count() == 1


def beat_schedule(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "RESEARCH_RECURRING_SCHEDULE"}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings.test")
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "entry = settings.CELERY_BEAT_SCHEDULE.get('research-recurring'); "
        "print(entry and (entry['task'], str(entry['schedule'])))"
    )
    result = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_beat_entry_follows_its_cron_string_and_can_be_disabled():
    default = beat_schedule()
    assert "apps.research.tasks.run_recurring_research" in default
    assert "<crontab: 0 6 * * 1 (m/h/dM/MY/d)>" in default
    assert "<crontab: 30 7 * * 1-5" in beat_schedule(RESEARCH_RECURRING_SCHEDULE="30 7 * * 1-5")
    assert beat_schedule(RESEARCH_RECURRING_SCHEDULE="disable") == "None"
