"""Real servers for the tests that need them: the app under gunicorn, Prometheus."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import IN_CI

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package: prometheus)"
        if IN_CI:
            pytest.fail(f"{message}; under CI=true a missing tool is a failure")
        pytest.skip(message)
    return path


def app_env(tmp: Path, **extra: str) -> dict[str, str]:
    """Environment for the app in a subprocess: embedded SQLite in ``tmp``, JSON logs."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp / "media"),
        JSON_LOGS="true",
        DJANGO_SUPERUSER_PASSWORD="a-long-password-for-tests",
        API_THROTTLE_USER="100000/minute",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@dataclass
class LiveApp:
    port: int
    log: Path
    key: str

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            all_headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
            all_headers.update(headers or {})
            conn.request(method, path, body=payload, headers=all_headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log.read_text().splitlines():
            if raw.startswith("{"):
                lines.append(json.loads(raw))
        return lines


def wait_for_health(process: subprocess.Popen[bytes], port: int, log: Path, *, timeout: float) -> None:
    """Until the server on 127.0.0.1:``port`` answers /health with 200; fails with its log
    when the process exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@contextmanager
def gunicorn_app(tmp: Path, *, workers: int = 3) -> Iterator[LiveApp]:
    multiproc = tmp / "prometheus"
    multiproc.mkdir(exist_ok=True)
    env = app_env(tmp, PROMETHEUS_MULTIPROC_DIR=str(multiproc))
    manage(env, "migrate", "--noinput")
    manage(env, "ensure_superuser")
    key = manage(env, "create_api_key", "admin").strip()
    port = free_port()
    log = tmp / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "commandcenter.wsgi:application"]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for_health(process, port, log, timeout=30)
        yield LiveApp(port=port, log=log, key=key)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
