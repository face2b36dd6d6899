"""deploy/Dockerfile: hadolint, the facts the compose files rely on, and its collectstatic
step run for real with the production settings."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest
from django.conf import settings

from .helpers import DOCKERFILE, ROOT, require_tool, run

TEXT = DOCKERFILE.read_text()


def instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in TEXT.splitlines() if not line.lstrip().startswith("#")))
    return [line.strip() for line in joined.splitlines() if line.strip()]


def test_it_passes_hadolint():
    result = run(require_tool("hadolint"), str(DOCKERFILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_builds_on_slim_python_311_in_stages():
    froms = [line.split()[1:] for line in instructions() if line.startswith("FROM ")]
    assert ["python:3.11-slim-bookworm", "AS", "builder"] in froms
    assert froms[-1] == ["python:3.11-slim-bookworm", "AS", "runtime"]
    assert "pip wheel --wheel-dir /wheels -r requirements/production.txt" in TEXT


def test_it_runs_as_an_unprivileged_user():
    users = [line.split()[1] for line in instructions() if line.startswith("USER ")]
    assert users == ["10001:10001"]


def test_it_serves_the_projects_wsgi_application_with_the_gunicorn_config():
    module, _, attribute = settings.WSGI_APPLICATION.rpartition(".")
    cmd = [line for line in instructions() if line.startswith("CMD ")][-1]
    assert cmd == f'CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "{module}:{attribute}"]'
    assert (ROOT / "deploy" / "gunicorn.conf.py").exists()


def test_its_health_check_requests_health_without_curl():
    healthcheck = [line for line in instructions() if line.startswith("HEALTHCHECK ")]
    assert len(healthcheck) == 1
    assert '"python", "-c"' in healthcheck[0]
    assert "http://127.0.0.1:8000/health" in healthcheck[0]


def test_the_metrics_directory_belongs_to_the_app_user():
    env = " ".join(line for line in instructions() if line.startswith("ENV "))
    assert "PROMETHEUS_MULTIPROC_DIR=/app/var/prometheus" in env
    assert "chown -R commandcenter:commandcenter /app/var" in TEXT
    assert "mkdir -p /app/var/media /app/var/backups /app/var/chroma /app/var/prometheus" in TEXT


def test_it_carries_the_backup_tools():
    assert 'install -y --no-install-recommends "postgresql-client-${POSTGRES_MAJOR}" zstd' in TEXT
    assert "COPY --from=redis /usr/local/bin/redis-server /usr/local/bin/redis-cli /usr/local/bin/" in TEXT


def test_the_build_context_leaves_out_secrets_and_local_data():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for pattern in (".git", ".venv", "var", "backups", "staticfiles", ".env", "**/.env.*", "tests"):
        assert pattern in ignored, pattern


@pytest.mark.slow
def test_its_collectstatic_step_works_with_the_production_settings(tmp_path):
    """The RUN line of the image, with its build-time values, into a scratch STATIC_ROOT."""
    step = next(line for line in instructions() if "manage.py collectstatic" in line)
    words = shlex.split(step.removeprefix("RUN "))
    assignments = dict(word.split("=", 1) for word in words[: words.index("python")])
    assert assignments["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    env = {**assignments, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "STATIC_ROOT": str(tmp_path / "static")}
    command = [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"]

    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)

    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "static" / "admin" / "css" / "base.css").exists() or any(
        (tmp_path / "static" / "admin" / "css").glob("base.*.css")
    )
