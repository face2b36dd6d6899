from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

import pytest
from celery.schedules import crontab
from django.core.management import CommandError, call_command

from apps.jobs.models import Job
from apps.repositories.tests.factories import RepositoryFactory
from apps.repositories.tests.github_stub import rate_limited, serve_repository

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("sync_repositories", *args, stdout=out)
    return out.getvalue()


def test_it_syncs_the_named_repositories_in_process(github):
    RepositoryFactory.create(owner="octo", name="app")
    RepositoryFactory.create(owner="octo", name="other")
    serve_repository(github, "octo/app")
    output = run("octo/app")
    assert "octo/app" in output
    assert "ok      updated" in output
    assert output.strip().endswith("1 synced, 0 failed")
    assert "octo/other" not in output


def test_a_failure_is_reported_and_exits_non_zero(github):
    RepositoryFactory.create(owner="octo", name="gone")
    github.expect_request("/repos/octo/gone").respond_with_json({"message": "Not Found"}, status=404)
    with pytest.raises(CommandError, match="0 synced, 1 failed"):
        run()


def test_an_exhausted_rate_limit_stops_with_the_reset_time(github):
    RepositoryFactory.create(owner="octo", name="app")
    github.expect_request("/repos/octo/app").respond_with_handler(lambda request: rate_limited())
    with pytest.raises(CommandError, match=r"rate limit exhausted until .* 1 repositories not synced"):
        run()


def test_an_unknown_name_is_a_clear_error(db):
    with pytest.raises(CommandError, match="no repository 'nobody/nothing' is tracked"):
        run("nobody/nothing")


def test_queue_hands_the_syncs_to_the_workers(db):
    RepositoryFactory.create_batch(2)
    output = run("--queue")
    assert "2 sync job(s) queued" in output
    assert Job.objects.filter(name="apps.repositories.tasks.sync_repository").count() == 2


def test_the_beat_schedule_is_hourly_by_default_and_can_be_disabled(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sync-repositories"]
    assert entry["task"] == "apps.repositories.tasks.sync_all_repositories"
    assert entry["schedule"] == crontab(minute="0")
    code = "from django.conf import settings; print(sorted(settings.CELERY_BEAT_SCHEDULE))"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "REPOSITORY_SYNC_SCHEDULE": "disable"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "sync-repositories" not in result.stdout
    assert "backup" in result.stdout
