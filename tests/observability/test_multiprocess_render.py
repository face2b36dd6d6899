"""The fast multiprocess renderer exposes exactly what prometheus_client's collector does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from commandcenter.multiprocess import MultiProcessRenderer

WRITER = r"""
import sys, time
from prometheus_client import Counter, Gauge, Histogram, Summary
n = int(sys.argv[1])
c = Counter("t_requests_total", "Requests.\nSecond line \\ backslash", ["view", "method"])
h = Histogram("t_latency_seconds", "Latency.", ["view"], buckets=(0.1, 0.5, 1, 5))
s = Summary("t_size_bytes", "Sizes.")
plain = Counter("t_plain_total", "No labels.")
gauges = {mode: Gauge(f"t_gauge_{mode}", f"Gauge {mode}.", ["k"], multiprocess_mode=mode)
          for mode in ("all", "liveall", "min", "livemin", "max", "livemax", "sum", "livesum",
                       "mostrecent", "livemostrecent")}
for i in range(20 * n):
    c.labels(view=f"v{i % 7}", method="GET" if i % 2 else "POST").inc(n)
    h.labels(view=f"v{i % 3}").observe((i % 11) / 2)
    s.observe(i)
plain.inc(n)
for mode, g in gauges.items():
    g.labels(k='quote"and\\slash').set(n * 10)
    time.sleep(0.001)
c.labels(view="only-in-" + str(n), method="GET").inc()
"""


def samples(text: str) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    found = set()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found.add((s.name, tuple(sorted(s.labels.items())), round(s.value, 9)))
    return found


def families(text: str) -> dict[str, tuple[str, str]]:
    return {f.name: (f.type, f.documentation) for f in text_string_to_metric_families(text)}


@pytest.fixture
def multiproc_dir(tmp_path: Path) -> Path:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for n in (1, 2, 3):
        subprocess.run([sys.executable, "-c", WRITER, str(n)], env=env, check=True)
    return tmp_path


def stock(path: Path) -> str:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(path))
    return generate_latest(registry).decode()


def test_same_samples_and_families_as_prometheus_client(multiproc_dir: Path):
    expected = stock(multiproc_dir)
    rendered = MultiProcessRenderer(str(multiproc_dir)).render().decode()
    assert samples(rendered) == samples(expected)
    assert families(rendered) == families(expected)
    assert len(samples(rendered)) > 40


def test_cached_files_pick_up_new_values_and_new_series(multiproc_dir: Path):
    renderer = MultiProcessRenderer(str(multiproc_dir))
    renderer.render()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir)}
    subprocess.run([sys.executable, "-c", WRITER, "4"], env=env, check=True)
    assert samples(renderer.render().decode()) == samples(stock(multiproc_dir))


def test_files_of_dead_processes_can_disappear(multiproc_dir: Path):
    renderer = MultiProcessRenderer(str(multiproc_dir))
    renderer.render()
    for live in multiproc_dir.glob("gauge_live*.db"):
        live.unlink()
    assert samples(renderer.render().decode()) == samples(stock(multiproc_dir))
