"""Real Celery workers for tests: a process on the real Redis broker and the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.db import connection

from commandcenter.celery import app

ROOT = Path(__file__).resolve().parents[1]
StartWorker = Callable[..., Path]
T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1, log: Path | None = None
) -> T:
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` seconds,
    with the end of ``log`` (a worker's, a server's) in the message."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = f"\n--- {log}:\n{log.read_text(errors='replace')[-3000:]}" if log and log.exists() else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")
        time.sleep(interval)


def pool_processes(queue: str) -> list[int]:
    """Pool children of the worker consuming ``queue`` (same command line as their parent)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if queue.encode() in cmdline:
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return [pid for pid, parent in parents.items() if parent in parents]


def database_url_of_the_test_database() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def reset_connections(celery_app: Any) -> None:
    """Celery caches its connection and producer pools (and queue declarations) per app."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app.amqp.__dict__.pop("queues", None)
    celery_app.amqp.__dict__.pop("router", None)


@pytest.fixture
def redis_broker(redis_url: str) -> Iterator[str]:
    """Point this process's Celery app at the real Redis broker, with a queue of its own."""
    queue = f"cc-test-{os.getpid()}-{time.monotonic_ns()}"
    saved = (app.conf.broker_url, app.conf.broker_transport_options, app.conf.task_default_queue)
    app.conf.update(broker_url=redis_url, broker_transport_options={"visibility_timeout": 60}, task_default_queue=queue)
    reset_connections(app)
    try:
        yield queue
    finally:
        with app.connection_for_write() as conn:
            channel: Any = conn.default_channel
            channel.queue_purge(queue)
            channel.client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        app.conf.update(broker_url=saved[0], broker_transport_options=saved[1], task_default_queue=saved[2])
        reset_connections(app)


@pytest.fixture
def start_worker(
    transactional_db: None, postgres_url: str, redis_broker: str, redis_url: str, tmp_path: Path
) -> Iterator[StartWorker]:
    """Start worker processes (``start_worker(**extra_env)`` gives the path of its JSON log);
    all are stopped at the end of the test."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(concurrency: int = 1, **extra_env: str) -> Path:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": database_url_of_the_test_database(),
            "CELERY_BROKER_URL": redis_url,
            "C_FORCE_ROOT": "1",
            "JSON_LOGS": "true",
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        log = tmp_path / f"worker-{len(processes)}.log"
        command = [sys.executable, "-m", "celery", "-A", "commandcenter", "worker", "-Q", redis_broker]
        command += [f"--concurrency={concurrency}", "--pool=prefork", "--loglevel=INFO"]
        command += ["--without-gossip", "--without-mingle", f"--hostname=test{len(processes)}@%h"]
        with log.open("w") as out:
            processes.append(subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT))
        return log

    try:
        yield start
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        connection.close()


@pytest.fixture
def worker(start_worker: StartWorker) -> Path:
    """One worker process; the path of its log (JSON lines)."""
    return start_worker()
