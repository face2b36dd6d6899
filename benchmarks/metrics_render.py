"""``/metrics`` render time with about 10,000 series in multiprocess mode.

Three writer processes (like three gunicorn workers) each create and increment the same
labelled counters, histograms and a gauge in a temporary ``PROMETHEUS_MULTIPROC_DIR``; then a
fresh process with that directory in its environment (set before ``prometheus_client`` is
imported, as under gunicorn) sets Django up with the bench settings and times
``commandcenter.exposition.render()`` - ``commandcenter.multiprocess.MultiProcessRenderer``
reading and merging every process's files. Baselines in the same run: the same series, with
the same values, in one process's ``CollectorRegistry`` rendered by ``generate_latest``; and
prometheus_client's own ``MultiProcessCollector`` + ``generate_latest`` over the same files. Optionally
the same directory served by gunicorn and fetched over HTTP. Target: render <= 100 ms.
"""

from __future__ import annotations

import http.client
import importlib.metadata
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.db import server_environment
from benchmarks.errors import BenchmarkError
from benchmarks.report import OUT_DIR, Report, SummaryRow, Table, Text
from benchmarks.server import BASE_DIR, environment, gunicorn

NAME = "metrics_render"
TITLE = "/metrics render time, multiprocess mode, ~10,000 series"

WRITERS = 3
VIEWS = 110
METHODS = ("GET", "POST", "PATCH", "DELETE")
STATUSES = ("200", "201", "204", "400", "404")
# django-prometheus' default request latency buckets (+Inf is added by prometheus_client).
BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 25.0, 50.0, 75.0)
OBSERVATIONS = 3  # per (view, method) and process
PREFIX = "bench_"

WARMUP = 2
RENDERS = 21
# gunicorn's max_requests (deploy/gunicorn.conf.py: 2000 + jitter) replaces workers; a replaced
# worker's counter and histogram files stay (mark_process_dead removes live gauges only) until
# the master restarts. The extra row adds this many such dead workers' files.
DEAD_WORKERS = 9
DEAD_RENDERS = 7
HTTP_FETCHES = 11
TARGET_MS = 100.0


def progress(message: str) -> None:
    print(f"[{NAME}] {message}", file=sys.stderr, flush=True)


def expected_series() -> dict[str, int]:
    per_histogram = len(BUCKETS) + 1 + 2  # buckets with +Inf, _count, _sum
    return {
        "histogram": VIEWS * len(METHODS) * per_histogram,
        "counter": VIEWS * len(METHODS) * len(STATUSES),
        "gauge": VIEWS,
    }


# --- the series, written identically by a writer process and by the baseline -----------------


def define(registry: Any) -> tuple[Any, Any, Any]:
    from prometheus_client import Counter, Gauge, Histogram

    duration = Histogram(
        f"{PREFIX}http_request_duration_seconds",
        "Request duration by view and method (bench).",
        ["view", "method"],
        buckets=BUCKETS,
        registry=registry,
    )
    responses = Counter(
        f"{PREFIX}http_responses",
        "Responses by view, method and status (bench).",
        ["view", "method", "status"],
        registry=registry,
    )
    in_flight = Gauge(
        f"{PREFIX}http_requests_in_flight",
        "Requests being served, by view (bench).",
        ["view"],
        multiprocess_mode="livesum",
        registry=registry,
    )
    return duration, responses, in_flight


def populate(metrics: tuple[Any, Any, Any], process: int) -> None:
    """What process ``process`` (0, 1, 2) records: every label set, deterministic values."""
    duration, responses, in_flight = metrics
    rng = random.Random(1000 + process)
    for v in range(VIEWS):
        view = f"api-view-{v:03d}"
        in_flight.labels(view=view).inc(rng.randint(0, 2))
        for method in METHODS:
            child = duration.labels(view=view, method=method)
            for _ in range(OBSERVATIONS):
                child.observe(rng.choice((0.004, 0.02, 0.06, 0.2, 0.6, 3.0)))
            for status in STATUSES:
                responses.labels(view=view, method=method, status=status).inc(rng.randint(1, 50))


# --- child processes ----------------------------------------------------------------------


def child_write(process: int) -> int:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        raise SystemExit("writer: PROMETHEUS_MULTIPROC_DIR is not set")
    from prometheus_client import CollectorRegistry

    populate(define(CollectorRegistry()), process)
    return 0


def timed(render: Any, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        render()
        times.append((time.perf_counter() - start) * 1000)
    return times


def child_measure(mode: str, result_path: str, text_path: str, renders: int) -> int:
    """``multiproc``: the app's render() over the directory; ``single``: the baseline."""
    if mode == "multiproc":
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            raise SystemExit("measure: PROMETHEUS_MULTIPROC_DIR is not set")
        import django

        django.setup()  # as a gunicorn worker: the app's own metrics exist in this process too
        from django.conf import settings
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        from commandcenter.exposition import render

        if not settings.PROMETHEUS_MULTIPROC_DIR:
            raise SystemExit("measure: settings.PROMETHEUS_MULTIPROC_DIR is empty")
        stock_registry = CollectorRegistry()
        MultiProcessCollector(stock_registry)

        def collect() -> Any:
            return generate_latest(stock_registry)

        text = render()
        timed(render, WARMUP)
        times = timed(render, renders)
        # The same files through prometheus_client's own collector, for comparison.
        collect_times = timed(collect, max(renders // 2, 3))
        files = sorted(p.name for p in Path(settings.PROMETHEUS_MULTIPROC_DIR).glob("*.db"))
    elif mode == "single":
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            raise SystemExit("baseline: PROMETHEUS_MULTIPROC_DIR must not be set")
        from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest

        disable_created_metrics()  # multiprocess mode exposes no _created series either
        registry = CollectorRegistry()
        metrics = define(registry)
        for process in range(WRITERS):
            populate(metrics, process)

        def render() -> bytes:
            return generate_latest(registry)

        text = render()
        timed(render, WARMUP)
        times = timed(render, renders)
        collect_times = []
        files = []
    else:
        raise SystemExit(f"unknown mode {mode}")
    Path(text_path).write_bytes(text)
    Path(result_path).write_text(
        json.dumps(
            {
                "times_ms": times,
                "collect_ms": collect_times,
                "files": files,
                "bytes": len(text),
            }
        ),
        encoding="utf-8",
    )
    return 0


# --- the parent ---------------------------------------------------------------------------


def parse(text: str) -> dict[str, float]:
    """Exposition text as {series: value}, comments left out."""
    series = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            series[name] = float(value)
    return series


def _env(prom_dir: Path | None) -> dict[str, str]:
    env = {**server_environment(), "JSON_LOGS": "true", "LOG_LEVEL": "INFO"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if prom_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(prom_dir)
    return env


def _child(args: list[str], env: dict[str, str], timeout: float = 60) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.metrics_render", *args],
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,  # the measuring process's own log lines
        stderr=subprocess.PIPE,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchmarkError(f"child {' '.join(args[:2])} failed ({proc.returncode}):\n{proc.stderr.decode()[-2000:]}")


def measure(mode: str, prom_dir: Path | None, tmp: Path, renders: int = RENDERS) -> tuple[dict[str, Any], str]:
    result, text = tmp / f"{mode}.json", tmp / f"{mode}.txt"
    _child(["--measure", mode, str(result), str(text), str(renders)], _env(prom_dir), timeout=120)
    return json.loads(result.read_text(encoding="utf-8")), text.read_text(encoding="utf-8")


def over_http(prom_dir: Path) -> tuple[list[float], int, int]:
    """GET /metrics from a gunicorn (2 sync workers) on the same directory."""
    with (
        environment(JSON_LOGS="true", LOG_LEVEL="INFO", PROMETHEUS_MULTIPROC_DIR=str(prom_dir)),
        gunicorn(workers=2, probe_path="/metrics", probe_headers={}, log_path=OUT_DIR / f"{NAME}.gunicorn.log") as srv,
    ):
        times, size, series = [], 0, 0
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
        try:
            for _ in range(HTTP_FETCHES):
                start = time.perf_counter()
                conn.request("GET", "/metrics")
                response = conn.getresponse()
                body = response.read()
                times.append((time.perf_counter() - start) * 1000)
                if response.status != 200:
                    raise BenchmarkError(f"GET /metrics answered {response.status}: {body[:200]!r}")
                size = len(body)
                series = len(parse(body.decode()))
        finally:
            conn.close()
    return times, size, series


def write(prom_dir: Path, processes: range) -> None:
    """Run one writer process per index (two at a time: this machine may have two cores)."""
    env = _env(prom_dir)
    indexes = list(processes)
    for start in range(0, len(indexes), 2):
        writers = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.metrics_render", "--write", str(i)],
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for i in indexes[start : start + 2]
        ]
        for writer in writers:
            _, err = writer.communicate(timeout=60)
            if writer.returncode != 0:
                raise BenchmarkError(f"writer failed ({writer.returncode}):\n{err.decode()[-2000:]}")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94] if len(values) > 1 else values[0]


def run() -> Report:
    started = time.monotonic()
    expected = expected_series()
    with tempfile.TemporaryDirectory(prefix="cc-bench-metrics-") as name:
        tmp = Path(name)
        prom_dir = tmp / "prometheus"
        prom_dir.mkdir()
        progress(f"{WRITERS} writer processes: {sum(expected.values())} series each, in {prom_dir}")
        write(prom_dir, range(WRITERS))
        file_bytes = sum(p.stat().st_size for p in prom_dir.glob("*.db"))
        writer_files = len(list(prom_dir.glob("*.db")))

        progress(f"render(): {WARMUP} warm-up + {RENDERS} timed, multiprocess and single-process baseline")
        multi, multi_text = measure("multiproc", prom_dir, tmp)
        single, single_text = measure("single", None, tmp)

        multi_series, single_series = parse(multi_text), parse(single_text)
        bench_multi = {k: v for k, v in multi_series.items() if k.startswith(PREFIX)}
        if set(bench_multi) != set(single_series):
            only = sorted(set(bench_multi) ^ set(single_series))[:5]
            raise BenchmarkError(f"multiprocess and baseline expose different series, e.g. {only}")
        wrong = [k for k, v in single_series.items() if not math.isclose(v, bench_multi[k], rel_tol=1e-9)]
        if wrong:
            raise BenchmarkError(f"multiprocess and baseline values differ, e.g. {wrong[:3]}")
        if len(single_series) != sum(expected.values()):
            raise BenchmarkError(f"baseline exposes {len(single_series)} series, expected {sum(expected.values())}")

        http_times: list[float] = []
        http_size = http_series = 0
        try:
            progress(f"over HTTP: gunicorn on the same directory, {HTTP_FETCHES} GET /metrics")
            http_times, http_size, http_series = over_http(prom_dir)
        except BenchmarkError as exc:
            progress(f"over HTTP skipped: {exc}")
        all_files = len(list(prom_dir.glob("*.db")))

        progress(f"{DEAD_WORKERS} more writers, as workers replaced by max_requests, then {DEAD_RENDERS} renders")
        write(prom_dir, range(WRITERS, WRITERS + DEAD_WORKERS))
        dead, dead_text = measure("multiproc", prom_dir, tmp, DEAD_RENDERS)
        dead_files = len(dead["files"])
        dead_series = len(parse(dead_text))

    versions = (
        f"Python {platform.python_version()}, prometheus_client {importlib.metadata.version('prometheus-client')}, "
        f"django-prometheus {importlib.metadata.version('django-prometheus')}, {os.cpu_count()} CPUs"
    )
    m_med, m_p95 = statistics.median(multi["times_ms"]), p95(multi["times_ms"])
    s_med, s_p95 = statistics.median(single["times_ms"]), p95(single["times_ms"])
    c_med = statistics.median(multi["collect_ms"])
    setup = Text(
        textwrap.fill(
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. {versions}. Series: {WRITERS} writer processes each "
            f"recorded the same label sets - histogram {PREFIX}http_request_duration_seconds{{view, method}} "
            f"({VIEWS} views x {len(METHODS)} methods, django-prometheus' {len(BUCKETS)} latency buckets + +Inf: "
            f"{expected['histogram']} series with _count and _sum), counter {PREFIX}http_responses_total{{view, "
            f"method, status}} ({expected['counter']}), gauge {PREFIX}http_requests_in_flight{{view}} livesum "
            f"({expected['gauge']}) - so each writer's files hold {sum(expected.values())} samples and the "
            f"aggregate exposes {len(bench_multi)} bench series (checked equal, name by name and value by value, "
            f"to the baseline's). The measuring process adds its own Django/app metrics: "
            f"{len(multi_series)} series in all. Timings: {RENDERS} renders after {WARMUP} warm-ups, each in a "
            "fresh process per kind of measurement.",
            width=110,
        )
    )
    rows: list[Sequence[str]] = [
        [
            "multiprocess: commandcenter.exposition.render()",
            f"{len(multi_series)}",
            f"{writer_files} ({file_bytes / 1e6:.1f} MB)",
            f"{multi['bytes'] / 1e6:.2f}",
            f"{m_med:.1f}",
            f"{m_p95:.1f}",
            f"<= {TARGET_MS:.0f}",
            "target met" if m_med <= TARGET_MS else "target MISSED",
        ],
        [
            "prometheus_client MultiProcessCollector + generate_latest",
            "-",
            "-",
            "-",
            f"{c_med:.1f}",
            f"{p95(multi['collect_ms']):.1f}",
            "-",
            "-",
        ],
        [
            "baseline: one CollectorRegistry, generate_latest",
            f"{len(single_series)}",
            "-",
            f"{single['bytes'] / 1e6:.2f}",
            f"{s_med:.1f}",
            f"{s_p95:.1f}",
            "-",
            "-",
        ],
    ]
    if http_times:
        rows.append(
            [
                "over HTTP: GET /metrics, gunicorn 2 sync workers",
                f"{http_series}",
                f"{all_files}",
                f"{http_size / 1e6:.2f}",
                f"{statistics.median(http_times):.1f}",
                f"{p95(http_times):.1f}",
                "-",
                "-",
            ]
        )
    rows.append(
        [
            f"  same + {DEAD_WORKERS} replaced workers' files ({DEAD_RENDERS} renders)",
            f"{dead_series}",
            f"{dead_files}",
            f"{dead['bytes'] / 1e6:.2f}",
            f"{statistics.median(dead['times_ms']):.1f}",
            f"{p95(dead['times_ms']):.1f}",
            "-",
            "-",
        ]
    )
    table = Table(
        "Render time (ms; verdict on the median)",
        ["what", "series", "files", "MB out", "median ms", "p95 ms", "target", "result"],
        rows,
        align="lrrrrrrl",
    )
    ratio = Text(
        f"Multiprocess render = {m_med / s_med:.1f}x the single-process baseline and "
        f"{c_med / m_med:.1f}x faster than prometheus_client's own multiprocess collector. Files: the writers' "
        f"{writer_files}, plus those of each measuring process and gunicorn worker (their own Django metrics), "
        f"plus {DEAD_WORKERS * writer_files // WRITERS} of the {DEAD_WORKERS} replaced workers in the last row."
    )
    progress(f"done in {time.monotonic() - started:.0f} s")
    summary = [
        SummaryRow(
            f"/metrics render, multiprocess, {len(multi_series):,} series (median)",
            f"{m_med:.1f} ms",
            f"{s_med:.1f} ms (one registry)",
            f"{m_med / s_med:.2f}",
            f"<= {TARGET_MS:.0f} ms",
            m_med <= TARGET_MS,
        )
    ]
    return Report(NAME, TITLE, [setup, table, ratio], summary)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        sys.exit(child_write(int(sys.argv[2])))
    if len(sys.argv) == 6 and sys.argv[1] == "--measure":
        sys.exit(child_measure(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
    sys.exit("usage: python -m benchmarks metrics_render  (this module's own entry point is for its children)")
