"""The Celery application: settings under the CELERY_ namespace, tasks autodiscovered,
logs through structlog (with the request id of the request that queued a task), and the
worker's metrics served for Prometheus."""

from __future__ import annotations

import logging.config
import os
from typing import Any

from celery import Celery, signals
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("commandcenter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Binds the request_id (and user_id) carried in each task's headers to the task's log lines.
app.steps["worker"].add(DjangoStructLogInitStep)


@signals.setup_logging.connect
def use_django_logging(**_: Any) -> None:
    """Keep Celery from installing its own handlers: the project's LOGGING applies."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@signals.worker_init.connect
def serve_worker_metrics(**_: Any) -> None:
    """In the worker's main process: serve /metrics on CELERY_METRICS_PORT, aggregating the
    samples its pool processes write to PROMETHEUS_MULTIPROC_DIR."""
    from django.conf import settings
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    if not settings.CELERY_METRICS_PORT:
        return
    registry = REGISTRY
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(settings.CELERY_METRICS_PORT, registry=registry)


@signals.worker_process_shutdown.connect
def forget_dead_process(pid: int | None = None, **_: Any) -> None:
    """A pool process that exits takes its live gauges with it (``livesum`` and friends)."""
    from django.conf import settings
    from prometheus_client import multiprocess

    if settings.PROMETHEUS_MULTIPROC_DIR:
        multiprocess.mark_process_dead(pid or os.getpid())


@signals.worker_process_init.connect
def forget_killed_processes(**_: Any) -> None:
    """A pool process killed outright (SIGKILL, the OOM killer) never ran the hook above: its
    live gauges (e.g. ``commandcenter_active_research_tasks``) would count it forever. The pool
    starts a replacement, which removes the live-gauge files of every pid no longer running."""
    from django.conf import settings

    if settings.PROMETHEUS_MULTIPROC_DIR:
        forget_dead_pids(settings.PROMETHEUS_MULTIPROC_DIR)


def forget_dead_pids(directory: str) -> list[int]:
    import glob
    import re

    from prometheus_client import multiprocess

    dead = set()
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        match = re.search(r"_(\d+)\.db$", path)
        if match and not _running(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in dead:
        multiprocess.mark_process_dead(pid, directory)
    return sorted(dead)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True
