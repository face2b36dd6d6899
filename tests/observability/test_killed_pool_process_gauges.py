"""A Celery pool process killed outright leaves its live gauge behind; its replacement removes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, multiprocess

from commandcenter.celery import forget_dead_pids

WRITER = textwrap.dedent(
    """
    import sys, time
    from prometheus_client import Gauge
    Gauge("cc_test_active", "a live gauge", multiprocess_mode="livesum").inc()
    print("ready", flush=True)
    time.sleep(60)
    """
)


def active(directory: Path) -> float:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    return registry.get_sample_value("cc_test_active") or 0.0


def start_writer(directory: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    process = subprocess.Popen([sys.executable, "-c", WRITER], env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def test_the_live_gauge_of_a_killed_process_is_forgotten(tmp_path: Path):
    killed, alive = start_writer(tmp_path), start_writer(tmp_path)
    try:
        assert active(tmp_path) == 2
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(10)
        time.sleep(0.1)
        assert active(tmp_path) == 2  # what a scrape would read without the cleanup

        assert forget_dead_pids(str(tmp_path)) == [killed.pid]

        assert active(tmp_path) == 1
        assert not list(tmp_path.glob(f"*_{killed.pid}.db"))
        assert list(tmp_path.glob(f"gauge_livesum_{alive.pid}.db"))
    finally:
        alive.kill()
        alive.wait(10)
