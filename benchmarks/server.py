"""A gunicorn server on 127.0.0.1 for the duration of a ``with`` block, always terminated."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from benchmarks.db import server_environment
from benchmarks.errors import BenchmarkError

BASE_DIR = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    pid: int
    log_path: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_ready(proc: subprocess.Popen[bytes], port: int, probe_path: str, headers: dict[str, str], log: Path) -> None:
    deadline = time.monotonic() + 30
    last_error = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchmarkError(f"gunicorn exited with {proc.returncode}:\n{_log_tail(log)}")
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        try:
            conn.request("GET", probe_path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            if response.status == 200:
                return
            last_error = f"HTTP {response.status}: {body[:300]!r}"
        except OSError as exc:
            last_error = str(exc)
        finally:
            conn.close()
        time.sleep(0.1)
    raise BenchmarkError(f"gunicorn did not answer {probe_path} in 30 s ({last_error}):\n{_log_tail(log)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group (arbiter and workers); SIGKILL it if the arbiter lingers."""
    if proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)  # the arbiter stops and reaps its workers
        return
    except subprocess.TimeoutExpired:
        pass
    # The arbiter is not reaped yet, so the group id is still this server's.
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)


@contextmanager
def gunicorn(
    *,
    workers: int,
    probe_path: str,
    probe_headers: dict[str, str],
    log_path: Path,
    wsgi: str = "commandcenter.wsgi:application",
) -> Iterator[Server]:
    """Start ``workers`` sync workers with the bench settings; yield once ``probe_path`` answers 200."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        wsgi,
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--bind",
        f"{HOST}:{port}",
        "--timeout",
        "30",
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=server_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: one killpg stops arbiter and workers
        )
    try:
        _wait_ready(proc, port, probe_path, probe_headers, log_path)
        yield Server(HOST, port, proc.pid, log_path)
    finally:
        _stop(proc)


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, with None, remove) environment variables for the block; gunicorn started
    inside it copies ``os.environ``."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def chroma_server(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """``manage.py run_chroma`` on ``env["CHROMA_PATH"]`` (the store's lock held by the server);
    yield its URL once the heartbeat answers."""
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_chroma", "--host", HOST, "--port", str(port)],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise BenchmarkError(f"the Chroma server exited with {proc.returncode}:\n{_log_tail(log_path)}")
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            try:
                conn.request("GET", "/api/v2/heartbeat")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            finally:
                conn.close()
            if time.monotonic() > deadline:
                raise BenchmarkError(f"the Chroma server did not answer in 60 s:\n{_log_tail(log_path)}")
            time.sleep(0.2)
        yield f"http://{HOST}:{port}"
    finally:
        _stop(proc)
