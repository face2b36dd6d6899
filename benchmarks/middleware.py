"""What the observability middleware costs per request: logging
(``commandcenter.middleware.RequestLogMiddleware``), metrics (django-prometheus'
``PrometheusBeforeMiddleware`` / ``PrometheusAfterMiddleware``, and its database engine
wrapper) and the request id (``commandcenter.middleware.RequestIdMiddleware``), measured with
and without them in one run.

(a) Over HTTP, on ``GET /api/v1/technologies/?page_size=50``: two gunicorn servers (2 sync
    workers each, PostgreSQL, ``JSON_LOGS=true`` into a log file), "with" on
    ``benchmarks.settings`` (``PROMETHEUS_MULTIPROC_DIR`` set, as in production) and "bare" on
    ``benchmarks.settings_bare``; rounds interleaved between them. Target: at most 10% slower.
(b) In process, on a trivial view (``benchmarks.views.trivial``: no database, no cache):
    Django's ``WSGIHandler`` called directly with a prepared environ, one handler per
    middleware list, batches interleaved, in a child process whose stdout (the JSON log) is a
    file. Target: at most 150 microseconds added per request.
"""

from __future__ import annotations

import http.client
import importlib.metadata
import io
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.db import database_url, server_environment, setup_django
from benchmarks.errors import BenchmarkError
from benchmarks.load import Client, Samples, round_ratios
from benchmarks.report import OUT_DIR, Report, SummaryRow, Table, Text
from benchmarks.server import BASE_DIR, environment, gunicorn

NAME = "middleware"
TITLE = "Observability middleware: cost per request (logging, metrics, request id)"

# --- (a) over HTTP ----------------------------------------------------------------------------
API_PATH = "/api/v1/technologies/?page_size=50"
WORKERS = 2
CONCURRENCY = 4
WARMUP = 60  # requests per server, not measured
PER_ROUND = 48  # requests per server per round
ROUNDS = 40
TIME_BUDGET = 32.0  # seconds of measured load at most; the current round always completes
TARGET_SLOWDOWN = 0.10

# --- (b) in process ---------------------------------------------------------------------------
TRIVIAL_PATH = "/bench/trivial/"
BATCH = 200  # requests per variant per round
INPROC_WARMUP = 300  # requests per variant, not measured
INPROC_ROUNDS = 40
INPROC_BUDGET = 30.0  # seconds of measured batches at most
TARGET_ADDED_US = 150.0

LOGGING_MW = "commandcenter.middleware.RequestLogMiddleware"
METRICS_MW = (
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "commandcenter.middleware.PrometheusAfterMiddleware",
)
REQUEST_ID_MW = "commandcenter.middleware.RequestIdMiddleware"
OBSERVABILITY_MW = (LOGGING_MW, *METRICS_MW, REQUEST_ID_MW)


@dataclass(frozen=True)
class Variant:
    key: str
    name: str
    kept: tuple[str, ...]  # which of OBSERVABILITY_MW stay in the chain


VARIANTS = [
    Variant("all", "all four (production MIDDLEWARE)", OBSERVABILITY_MW),
    Variant("bare", "none of the four", ()),
    Variant("logging", "+ logging only (RequestLogMiddleware)", (LOGGING_MW,)),
    Variant("metrics", "+ metrics only (Prometheus Before/After)", METRICS_MW),
    Variant("request_id", "+ request id only (RequestIdMiddleware)", (REQUEST_ID_MW,)),
]


def progress(message: str) -> None:
    print(f"[{NAME}] {message}", file=sys.stderr, flush=True)


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def count_log_events(path: Path, event: str) -> tuple[int, int, bool]:
    """(lines with that event, file size, whether every such line is a JSON object)."""
    count = 0
    all_json = True
    quoted = json.dumps(event)
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if quoted not in line:
                continue
            try:
                parsed = json.loads(line)
            except ValueError:
                all_json = False
                continue
            if isinstance(parsed, dict) and parsed.get("event") == event:
                count += 1
    return count, path.stat().st_size, all_json


def metric_value(text: str, name: str, labels: str = "") -> float:
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return 0.0


def workers_cpu_seconds(arbiter_pid: int) -> float | None:
    """User + system CPU time of the arbiter's live children (the gunicorn workers), from
    /proc; None where there is no /proc."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return None
    for entry in entries:
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[1]) == arbiter_pid:  # ppid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def metric_sum(text: str, name: str) -> float:
    """The sum of every labelled sample of ``name``."""
    return sum(float(line.rpartition(" ")[2]) for line in text.splitlines() if line.startswith(f"{name}{{"))


# --- (a) -----------------------------------------------------------------------------------


@dataclass
class HttpResult:
    samples: dict[str, Samples]  # "with", "bare"
    cpu_seconds: dict[str, float | None]  # gunicorn workers' CPU during the measured rounds
    rounds: int
    stopped_early: bool
    logged: int
    log_bytes: int
    log_json: bool
    metrics_counted: float
    queries_counted: float
    bare_queries_counted: float
    bare_logged: int
    pg_version: str
    bare_engine: str
    full_engine: str


def _http(tmp: Path) -> HttpResult:
    from django.db import connection

    from benchmarks import settings_bare
    from benchmarks.api_list import issue_key, seed

    if settings_bare.OBSERVABILITY_MIDDLEWARE != OBSERVABILITY_MW:
        raise BenchmarkError("benchmarks.settings_bare removes other middleware than this benchmark measures")
    missing = [name for name in OBSERVABILITY_MW if name not in settings_bare.FULL_MIDDLEWARE]
    if missing:
        raise BenchmarkError(f"not in the project's MIDDLEWARE any more: {', '.join(missing)}")
    progress(seed())
    key = issue_key()
    headers = {"Authorization": f"Bearer {key}"}
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (pg_version,) = cursor.fetchone()
    connection.close()

    prom_dir = tmp / "prometheus-with"
    prom_dir.mkdir()
    with_log = OUT_DIR / f"{NAME}.with.gunicorn.log"
    bare_log = OUT_DIR / f"{NAME}.bare.gunicorn.log"
    progress(f"starting two gunicorns ({WORKERS} sync workers each): with and bare")
    with ExitStack() as stack:
        with environment(JSON_LOGS="true", LOG_LEVEL="INFO", PROMETHEUS_MULTIPROC_DIR=str(prom_dir)):
            server_with = stack.enter_context(
                gunicorn(workers=WORKERS, probe_path=API_PATH, probe_headers=headers, log_path=with_log)
            )
        with environment(JSON_LOGS="true", LOG_LEVEL="INFO", PROMETHEUS_MULTIPROC_DIR=None):
            server_bare = stack.enter_context(
                gunicorn(
                    workers=WORKERS,
                    probe_path=API_PATH,
                    probe_headers=headers,
                    log_path=bare_log,
                    wsgi="benchmarks.wsgi_bare:application",
                )
            )
        ports = {"with": server_with.port, "bare": server_bare.port}
        arbiters = {"with": server_with.pid, "bare": server_bare.pid}

        # Both must serve the same page, and each must be what it claims to be.
        answers = {side: get(port, API_PATH, headers) for side, port in ports.items()}
        for side, (status, _, body) in answers.items():
            if status != 200:
                raise BenchmarkError(f"{side}: GET {API_PATH} answered {status}: {body[:200]!r}")
        pages = {side: json.loads(body) for side, (_, _, body) in answers.items()}
        if [pages["with"][k] for k in ("count", "results")] != [pages["bare"][k] for k in ("count", "results")]:
            raise BenchmarkError("the with and bare servers do not return the same page")  # (links name the port)
        if "x-request-id" not in answers["with"][1] or "x-request-id" in answers["bare"][1]:
            raise BenchmarkError("X-Request-ID should be set by the with server only: middleware lists are wrong")

        progress(
            f"load: {CONCURRENCY} clients per server, warm-up {WARMUP}, "
            f"up to {ROUNDS} rounds x {PER_ROUND} requests per server, interleaved"
        )
        samples, cpu_seconds, rounds, stopped_early = interleaved_load(ports, arbiters, headers)

        status, _, body = get(server_with.port, "/metrics", {})
        if status != 200:
            raise BenchmarkError(f"/metrics of the with server answered {status}")
        counted = metric_value(body.decode(), "django_http_requests_total_by_method_total", 'method="GET"')
        queries = metric_sum(body.decode(), "django_db_execute_total")
        # The bare server is not in multiprocess mode: its /metrics is the answering worker's registry.
        status, _, body = get(server_bare.port, "/metrics", {})
        if status != 200:
            raise BenchmarkError(f"/metrics of the bare server answered {status}")
        bare_queries = metric_sum(body.decode(), "django_db_execute_total")
        if not queries or bare_queries:
            raise BenchmarkError(f"queries counted by the engine wrapper: with {queries}, bare {bare_queries}")
    logged, log_bytes, log_json = count_log_events(with_log, "request_finished")
    bare_logged, _, _ = count_log_events(bare_log, "request_finished")
    return HttpResult(
        samples,
        cpu_seconds,
        rounds,
        stopped_early,
        logged,
        log_bytes,
        log_json,
        counted,
        queries,
        bare_queries,
        bare_logged,
        pg_version,
        settings_bare.DATABASES["default"]["ENGINE"],
        settings_bare.FULL_DATABASE_ENGINE,
    )


def interleaved_load(
    ports: dict[str, int], arbiters: dict[str, int], headers: dict[str, str]
) -> tuple[dict[str, Samples], dict[str, float | None], int, bool]:
    """``load.Client`` phases on the two servers in turn (ABBA order), ``PER_ROUND`` requests
    each; also the CPU time the workers of each server used during the measured rounds."""
    clients = {side: Client("127.0.0.1", port, headers, CONCURRENCY) for side, port in ports.items()}
    samples = {side: Samples() for side in ports}
    errors: list[str] = []
    done = 0
    try:
        with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="bench-client") as pool:
            for client in clients.values():
                errors += client.phase(pool, API_PATH, WARMUP, None)
            cpu_before = {side: workers_cpu_seconds(pid) for side, pid in arbiters.items()}
            started = time.monotonic()
            while done < ROUNDS and not errors:
                order = ["with", "bare"] if done % 2 == 0 else ["bare", "with"]
                for side in order:
                    errors += clients[side].phase(pool, API_PATH, PER_ROUND, samples[side])
                done += 1
                if time.monotonic() - started > TIME_BUDGET:
                    break
            cpu_after = {side: workers_cpu_seconds(pid) for side, pid in arbiters.items()}
    finally:
        for client in clients.values():
            client.close()
    if errors:
        shown = "\n  ".join(errors[:5])
        raise BenchmarkError(f"{len(errors)} request(s) failed during the load run:\n  {shown}")
    cpu: dict[str, float | None] = {}
    for side in arbiters:
        before, after = cpu_before[side], cpu_after[side]
        cpu[side] = None if before is None or after is None else after - before
    return samples, cpu, done, done < ROUNDS


# --- (b) ------------------------------------------------------------------------------------


def child_main(result_path: str) -> int:
    """In the child process: time the trivial view through each variant's ``WSGIHandler``."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    from commandcenter.logging import _direct_handlers

    full = list(settings.MIDDLEWARE)
    missing = [name for name in OBSERVABILITY_MW if name not in full]
    if missing:
        raise SystemExit(f"not in MIDDLEWARE: {missing}")

    handlers: dict[str, WSGIHandler] = {}
    chains: dict[str, list[str]] = {}
    for variant in VARIANTS:
        chain = [name for name in full if name not in OBSERVABILITY_MW or name in variant.kept]
        with override_settings(MIDDLEWARE=chain):
            handlers[variant.key] = WSGIHandler()  # builds its middleware chain from MIDDLEWARE, once
        chains[variant.key] = chain

    base_environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": TRIVIAL_PATH,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "benchmarks/1.0",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        statuses.append(status)
        return lambda data: None

    def call(handler: WSGIHandler, count: int) -> int:
        """``count`` requests as a WSGI server makes them; returns the elapsed nanoseconds."""
        start = time.perf_counter_ns()
        for _ in range(count):
            environ = dict(base_environ)
            environ["wsgi.input"] = io.BytesIO(b"")
            response = handler(environ, start_response)
            b"".join(response)
            response.close()  # sends request_finished, as a server does
        return time.perf_counter_ns() - start

    for variant in VARIANTS:  # correctness first: every variant answers 200 "ok"
        statuses.clear()
        environ = dict(base_environ, **{"wsgi.input": io.BytesIO(b"")})
        response = handlers[variant.key](environ, start_response)
        body = b"".join(response)
        response.close()
        if statuses != ["200 OK"] or body != b"ok\n":
            raise SystemExit(f"{variant.key}: {statuses} {body[:200]!r}")
    for variant in VARIANTS:
        call(handlers[variant.key], INPROC_WARMUP)
    statuses.clear()

    per_request: dict[str, list[float]] = {v.key: [] for v in VARIANTS}  # microseconds, one per batch
    started = time.monotonic()
    rounds = 0
    while rounds < INPROC_ROUNDS:
        shift = rounds % len(VARIANTS)  # rotate the order: no variant always follows the same one
        for variant in VARIANTS[shift:] + VARIANTS[:shift]:
            per_request[variant.key].append(call(handlers[variant.key], BATCH) / BATCH / 1000)
        rounds += 1
        if time.monotonic() - started > INPROC_BUDGET:
            break
    bad = [s for s in statuses if s != "200 OK"]
    sys.stdout.flush()
    result = {
        "per_request_us": per_request,
        "rounds": rounds,
        "batch": BATCH,
        "warmup": INPROC_WARMUP,
        "non_200": len(bad),
        "chains": chains,
        "multiproc_dir": os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""),
        "log_handlers": [type(h).__name__ for h in logging.getLogger().handlers],
        # Whether the request line takes DirectLogger's short way, as it does under gunicorn.
        "direct": _direct_handlers(logging.getLogger("commandcenter.middleware"), logging.INFO) is not None,
    }
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")
    return 0


@dataclass
class InProcessResult:
    per_request_us: dict[str, list[float]]
    rounds: int
    batch: int
    warmup: int
    chains: dict[str, list[str]]
    logged: int
    log_bytes: int
    log_json: bool
    log_handlers: list[str]
    direct: bool
    seconds: float


def _in_process(tmp: Path) -> InProcessResult:
    prom_dir = tmp / "prometheus-inprocess"
    prom_dir.mkdir()
    result_path = tmp / "inprocess.json"
    log_path = OUT_DIR / f"{NAME}.inprocess.log"
    env = {
        **server_environment(),
        "JSON_LOGS": "true",
        "LOG_LEVEL": "INFO",
        "PROMETHEUS_MULTIPROC_DIR": str(prom_dir),  # before prometheus_client is imported, as in gunicorn
    }
    progress(
        f"in process: {len(VARIANTS)} WSGIHandlers, up to {INPROC_ROUNDS} rounds x {BATCH} requests each, interleaved"
    )
    started = time.monotonic()
    with log_path.open("wb") as log:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.middleware", "--in-process", str(result_path)],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,  # the JSON log lines, through the production LOGGING (a StreamHandler on stdout)
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    seconds = time.monotonic() - started
    if proc.returncode != 0 or not result_path.exists():
        raise BenchmarkError(f"in-process child failed ({proc.returncode}):\n{proc.stderr.decode()[-2000:]}")
    data = json.loads(result_path.read_text(encoding="utf-8"))
    if data["non_200"]:
        raise BenchmarkError(f"in-process child: {data['non_200']} answers were not 200")
    logged, log_bytes, log_json = count_log_events(log_path, "request_finished")
    return InProcessResult(
        data["per_request_us"],
        data["rounds"],
        data["batch"],
        data["warmup"],
        data["chains"],
        logged,
        log_bytes,
        log_json,
        data["log_handlers"],
        data["direct"],
        seconds,
    )


# --- the run --------------------------------------------------------------------------------


def run() -> Report:
    started = time.monotonic()
    setup_django()
    url = urlsplit(database_url())
    progress(f"migrated PostgreSQL {url.hostname}:{url.port or 5432}{url.path}")
    import django

    with tempfile.TemporaryDirectory(prefix="cc-bench-middleware-") as name:
        tmp = Path(name)
        http_result = _http(tmp)
        inproc = _in_process(tmp)
    versions = (
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"structlog {importlib.metadata.version('structlog')}, "
        f"django-prometheus {importlib.metadata.version('django-prometheus')}, "
        f"prometheus_client {importlib.metadata.version('prometheus-client')}, "
        f"gunicorn {importlib.metadata.version('gunicorn')}, PostgreSQL {http_result.pg_version}, "
        f"{os.cpu_count()} CPUs"
    )
    report = build_report(http_result, inproc, versions)
    progress(f"done in {time.monotonic() - started:.0f} s")
    return report


def build_report(h: HttpResult, b: InProcessResult, versions: str) -> Report:
    s_with, s_bare = h.samples["with"], h.samples["bare"]
    cpu_ms = {
        side: None if seconds is None else seconds * 1000 / max(h.samples[side].requests, 1)
        for side, seconds in h.cpu_seconds.items()
    }
    ratios = round_ratios(s_with, s_bare)  # with/bare throughput per round
    slowdowns = [1 / r - 1 for r in ratios]  # extra time per request, per round
    median_slowdown = statistics.median(slowdowns)
    overall_slowdown = s_bare.throughput / s_with.throughput - 1

    setup = Text(
        textwrap.fill(
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. {versions}. Slowdown = extra time per request = "
            "bare req/s / with req/s - 1 (median of the per-round values for the verdict).",
            width=110,
        )
    )
    differs = Table(
        "(a) What differs between the two servers (everything else is the same: bench settings, 2 sync workers, "
        "JSON_LOGS=true, stdout+stderr to a log file, LocMemCache with its counting, throttling)",
        ["", "with", "bare"],
        [
            ["settings module", "benchmarks.settings (= production MIDDLEWARE)", "benchmarks.settings_bare"],
            ["logging middleware", LOGGING_MW, "-"],
            ["metrics middleware", " + ".join(m.rsplit(".", 1)[1] for m in METRICS_MW), "-"],
            ["request-id middleware", REQUEST_ID_MW, "-"],
            ["database engine", h.full_engine, h.bare_engine],
            ["PROMETHEUS_MULTIPROC_DIR", "a temp dir (mmap files, as production)", "unset (in-memory values)"],
            [
                "request_finished lines logged",
                f"{h.logged} ({h.log_bytes / 1e6:.1f} MB, JSON: {'yes' if h.log_json else 'NO'})",
                str(h.bare_logged),
            ],
            ["GET requests counted in /metrics", f"{h.metrics_counted:.0f}", "-"],
            [
                "SQL queries counted in /metrics (engine wrapper)",
                f"{h.queries_counted:.0f}",
                f"{h.bare_queries_counted:.0f} (answering worker)",
            ],
        ],
        align="lll",
    )
    http_table = Table(
        f"(a) GET {API_PATH} over HTTP (closed loop, {CONCURRENCY} clients, {h.rounds} rounds x {PER_ROUND} requests "
        f"per server, ABBA-interleaved{', stopped early: time budget' if h.stopped_early else ''})",
        ["server", "requests", "req/s", "p50 ms", "p95 ms", "worker CPU ms/req"],
        [
            [
                name,
                str(smp.requests),
                f"{smp.throughput:.1f}",
                f"{smp.percentile(50) * 1000:.2f}",
                f"{smp.percentile(95) * 1000:.2f}",
                "-" if cpu_ms[side] is None else f"{cpu_ms[side]:.2f}",
            ]
            for side, name, smp in (("with", "with (all four)", s_with), ("bare", "bare (none)", s_bare))
        ],
        align="lrrrrr",
    )
    p50_delta = (s_with.percentile(50) - s_bare.percentile(50)) * 1000
    cpu_with, cpu_bare = cpu_ms["with"], cpu_ms["bare"]
    cpu_row = (
        ["gunicorn workers' CPU per request", f"{(cpu_with / cpu_bare - 1) * 100:+.1f} %", "-", "-", "-", "-"]
        if cpu_with is not None and cpu_bare
        else None
    )
    http_verdict = Table(
        "(a) Slowdown of with vs bare",
        ["measure", "overall", "median/round", "range/round", "target", "result"],
        [
            [
                "extra time per request",
                f"{overall_slowdown * 100:+.1f} %",
                f"{median_slowdown * 100:+.1f} %",
                f"{min(slowdowns) * 100:+.1f} .. {max(slowdowns) * 100:+.1f} %",
                f"<= {TARGET_SLOWDOWN * 100:.0f} %",
                "target met" if median_slowdown <= TARGET_SLOWDOWN else "target MISSED",
            ],
            ["p50 latency, with - bare", f"{p50_delta:+.2f} ms", "-", "-", "-", "-"],
            *([cpu_row] if cpu_row else []),
        ],
        align="lrrrrl",
    )

    us = b.per_request_us
    bare = us["bare"]

    def added(key: str) -> list[float]:
        return [x - y for x, y in zip(us[key], bare, strict=True)]

    rows: list[Sequence[str]] = []
    for variant in VARIANTS:
        diffs = added(variant.key)
        is_all = variant.key == "all"
        rows.append(
            [
                variant.name,
                f"{len(us[variant.key]) * b.batch}",
                f"{statistics.median(us[variant.key]):.1f}",
                f"{min(us[variant.key]):.1f}",
                "-" if variant.key == "bare" else f"{statistics.median(diffs):+.1f}",
                "-" if variant.key == "bare" else f"{min(diffs):+.1f} .. {max(diffs):+.1f}",
                f"<= {TARGET_ADDED_US:.0f}" if is_all else "-",
                ("target met" if statistics.median(diffs) <= TARGET_ADDED_US else "target MISSED") if is_all else "-",
            ]
        )
    parts = sum(statistics.median(added(k)) for k in ("logging", "metrics", "request_id"))
    inproc_table = Table(
        f"(b) GET {TRIVIAL_PATH} in process through WSGIHandler ({b.rounds} rounds x {b.batch} requests per "
        f"variant, rotated order; us = microseconds per request)",
        [
            "middleware (of the four)",
            "requests",
            "median us",
            "best us",
            "added us (median)",
            "added range",
            "target",
            "result",
        ],
        rows,
        align="lrrrrrrl",
    )
    notes = Text(
        textwrap.fill(
            "(b) method: one child process (benchmarks.settings, JSON_LOGS=true, LOG_LEVEL=INFO, "
            "PROMETHEUS_MULTIPROC_DIR set to a temp dir before prometheus_client is imported); one "
            "django.core.handlers.wsgi.WSGIHandler per variant, each built under override_settings(MIDDLEWARE=...) "
            "(a handler reads MIDDLEWARE once, when it builds its chain), then called like a WSGI server does "
            "(fresh environ copy, body joined, close() so request_finished fires) - no HTTP, no gunicorn. "
            f"Warm-up {b.warmup} requests per variant. Added = variant batch - bare batch of the same round, "
            f"median over rounds. The parts add up to {parts:+.1f} us (interactions: logging alone makes its own "
            "request id and times the request from its own start). Logging really written: "
            f"{b.logged} request_finished JSON lines ({b.log_bytes / 1e6:.1f} MB, "
            f"JSON: {'yes' if b.log_json else 'NO'}) by the production formatter "
            f"(build_logging(json_logs=True)) through {', '.join(b.log_handlers)} on stdout = "
            f"benchmarks/out/{NAME}.inprocess.log (structlog events written to its stream by DirectLogger: "
            f"{'yes' if b.direct else 'NO'}). Child ran {b.seconds:.0f} s.",
            width=110,
        )
    )
    added_all = statistics.median(added("all"))
    summary = [
        SummaryRow(
            "Middleware overhead over HTTP: API list, all four vs none",
            f"{s_with.throughput:.0f} req/s",
            f"{s_bare.throughput:.0f} req/s",
            f"{median_slowdown * 100:+.1f} % time/req",
            f"<= +{TARGET_SLOWDOWN * 100:.0f} %",
            median_slowdown <= TARGET_SLOWDOWN,
        ),
        SummaryRow(
            "Middleware added per request, in process (trivial view)",
            f"{statistics.median(us['all']):.0f} us",
            f"{statistics.median(bare):.0f} us (none)",
            f"+{added_all:.0f} us",
            f"<= +{TARGET_ADDED_US:.0f} us",
            added_all <= TARGET_ADDED_US,
        ),
    ]
    return Report(NAME, TITLE, [setup, differs, http_table, http_verdict, inproc_table, notes], summary)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--in-process":
        sys.exit(child_main(sys.argv[2]))
    sys.exit("usage: python -m benchmarks middleware  (this module's own entry point is for its child process)")
