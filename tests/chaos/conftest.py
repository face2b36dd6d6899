"""Fixtures of the fault tests: throwaway Redis servers, this process's Celery app pointed at
one of them, Celery workers in process groups of their own, and a size-limited disk."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import pytest

from commandcenter.celery import app
from tests.celery_worker import database_url_of_the_test_database, reset_connections
from tests.chaos.servers import Redis, Worker, celery_workers, require, throwaway_redis

StartRedis = Callable[..., Redis]


@pytest.fixture
def start_redis(tmp_path: Path) -> Iterator[StartRedis]:
    """``start_redis(appendonly=...)``: a Redis of the test's own; all killed at the end."""
    with ExitStack() as stack:

        def start(*, appendonly: bool) -> Redis:
            directory = tmp_path / f"redis-{time.monotonic_ns()}"
            return stack.enter_context(throwaway_redis(directory, appendonly=appendonly))

        yield start


@pytest.fixture
def queue() -> str:
    return f"chaos-{os.getpid()}-{time.monotonic_ns()}"


@pytest.fixture
def publish_to() -> Iterator[Callable[[str, str], None]]:
    """``publish_to(broker_url, queue)``: this process's Celery app sends its jobs there."""
    saved = (app.conf.broker_url, app.conf.broker_transport_options, app.conf.task_default_queue)

    def point(url: str, queue: str) -> None:
        app.conf.update(broker_url=url, broker_transport_options={}, task_default_queue=queue)
        reset_connections(app)

    try:
        yield point
    finally:
        pool: Any = app.pool
        with suppress(Exception):  # the broker may be the throwaway one, gone by now
            pool.force_close_all()
        app.conf.update(broker_url=saved[0], broker_transport_options=saved[1], task_default_queue=saved[2])
        reset_connections(app)


@pytest.fixture
def start_worker_on(
    transactional_db: None, postgres_url: str, queue: str, tmp_path: Path
) -> Iterator[Callable[..., Worker]]:
    """``start_worker_on(broker_url, **env)``: a worker on the test database and ``queue``."""
    with celery_workers(tmp_path, queue, {"DATABASE_URL": database_url_of_the_test_database()}) as start:

        def start_on(broker_url: str, **env: str) -> Worker:
            return start(CELERY_BROKER_URL=broker_url, **env)

        yield start_on


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a real file system that runs out of space (ENOSPC)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(mount_point)],
            capture_output=True,
            timeout=30,
            check=False,
        ).returncode
        == 0
    )
    require(mounted, "cannot mount a size-limited tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], capture_output=True, timeout=30, check=False)
