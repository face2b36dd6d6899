"""Load test: gunicorn on PostgreSQL with 10,000 technologies, 50 clients for 60 s, mixed traffic.

A database of its own (``commandcenter_bench_load``: created, migrated and seeded once, then
reused) holds 10,000 technologies with 3-4 tags each, 40 repositories, research tasks and a
few knowledge documents indexed in a Chroma server (``manage.py run_chroma`` on a store under
``benchmarks/out/``, shared by every gunicorn worker through ``CHROMA_URL``, as in production).
gunicorn runs as deployed by default (3 sync workers, JSON logs at INFO to a file,
``PROMETHEUS_MULTIPROC_DIR`` set), with API-key authentication on every API request.

The load: ``BENCH_LOAD_CLIENTS`` (50) closed-loop clients for ``BENCH_LOAD_SECONDS`` (60) after
``BENCH_LOAD_WARMUP`` (10) seconds of warm-up, each picking the next request at random from the
mix: list (``/api/v1/technologies/?page=N``), detail, filter (``?ring=...&domain=...``), search
(``?search=...``) and knowledge queries (``POST /api/v1/knowledge/query/``). Baseline in the same
run: the same clients on a trivial view (``/bench/trivial/``, no database) of the same server
for ``BENCH_LOAD_BASELINE_SECONDS`` (15). Target: no errors.
"""

from __future__ import annotations

import http.client
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from benchmarks.db import database_url
from benchmarks.errors import BenchmarkError
from benchmarks.load import MixResult, Request, percentile, run_mix
from benchmarks.report import OUT_DIR, Report, SummaryRow, Table, Text
from benchmarks.server import BASE_DIR, chroma_server, environment, gunicorn

NAME = "loadtest"
TITLE = "Load test: gunicorn + PostgreSQL, 10,000 technologies, mixed API traffic"

DATABASE = "commandcenter_bench_load"
CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "50"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
WARMUP_SECONDS = float(os.environ.get("BENCH_LOAD_WARMUP", "10"))
BASELINE_SECONDS = float(os.environ.get("BENCH_LOAD_BASELINE_SECONDS", "15"))
WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", "3"))  # deploy/gunicorn.conf.py's default

TECHNOLOGIES = 10_000
RESEARCH_TASKS = 300
RESEARCH_PREFIX = "Load test evaluation"
DOCUMENTS = 40
CHROMA_DIR = OUT_DIR / "loadtest-chroma"
MEDIA_DIR = OUT_DIR / "loadtest-media"
SEED = 20241127

# Share of each kind of request in the mix (weights, in percent).
MIX = {"list": 30, "detail": 25, "filter": 20, "search": 15, "knowledge": 10}
TRIVIAL_PATH = "/bench/trivial/"


def progress(message: str) -> None:
    print(f"[{NAME}] {message}", file=sys.stderr, flush=True)


def load_database_url() -> str:
    """The bench database URL with the load test's own database name."""
    parts = urlsplit(database_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{DATABASE}", parts.query, ""))


# --- child: migrate and seed ----------------------------------------------------------------


def seed_research() -> str:
    import random

    from apps.research.choices import ResearchTaskStatus
    from apps.research.models import ResearchTask
    from apps.technologies.models import Technology
    from benchmarks.api_list import SENTENCES, SLUG_PREFIX

    existing = ResearchTask.objects.filter(title__startswith=RESEARCH_PREFIX)
    if existing.count() == RESEARCH_TASKS:
        return f"already seeded ({RESEARCH_TASKS} research tasks)"
    existing.delete()
    rng = random.Random(SEED)
    ids = list(Technology.objects.filter(slug__startswith=SLUG_PREFIX).values_list("pk", flat=True))
    ResearchTask.objects.bulk_create(
        [
            ResearchTask(
                title=f"{RESEARCH_PREFIX} {i:03d}",
                description=" ".join(rng.sample(SENTENCES, 2)),
                status=rng.choice(ResearchTaskStatus.values),
                technology_id=rng.choice(ids),
                progress=rng.randint(0, 100),
                findings=rng.choice(SENTENCES),
            )
            for i in range(RESEARCH_TASKS)
        ]
    )
    return f"seeded {RESEARCH_TASKS} research tasks"


def seed_documents() -> str:
    """``DOCUMENTS`` generated Markdown notes, stored and indexed through the app's bulk path,
    unless they are all indexed already and the Chroma store still holds their chunks."""
    from django.core.files.base import ContentFile

    from apps.knowledge import index, services
    from apps.knowledge.models import Document
    from benchmarks.knowledge import corpus

    documents = corpus(DOCUMENTS, seed=SEED)
    model = services.current_model_name()
    indexed = Document.objects.filter(status="indexed", title__in=[d.title for d in documents]).count()
    chunks = index.count(model)
    if indexed == DOCUMENTS and chunks:
        return f"already ingested ({DOCUMENTS} documents, {chunks} chunks in Chroma)"
    Document.objects.all().delete()
    index.drop(model)
    ids = [
        services.create_from_file(
            ContentFile(d.text.encode(), name=d.name), title=d.title, category=d.category
        ).document.pk
        for d in documents
    ]
    outcomes = list(services.ingest_many(ids))
    failed = [o for o in outcomes if o.get("status") != "indexed"]
    if failed:
        raise BenchmarkError(f"{len(failed)} document(s) not indexed, e.g. {failed[0]}")
    return f"ingested {DOCUMENTS} documents ({index.count(model)} chunks in Chroma)"


def child_prepare(result_path: Path) -> int:
    """Migrate and seed the load database (idempotent); write what the clients need as JSON."""
    from benchmarks.db import setup_django

    setup_django()
    from django.db import connection

    from apps.technologies.choices import RadarRing, TechnologyDomain
    from apps.technologies.models import Technology
    from benchmarks import api_list
    from benchmarks.knowledge import QUESTIONS_FILE, TOPICS

    messages = [api_list.seed(TECHNOLOGIES), seed_research(), seed_documents()]
    key = api_list.issue_key()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics for the fresh rows, as autovacuum would gather
    ids = list(Technology.objects.filter(slug__startswith=api_list.SLUG_PREFIX).values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (pg_version,) = cursor.fetchone()
    questions = [item["question"] for item in json.loads(QUESTIONS_FILE.read_text(encoding="utf-8"))]
    data = {
        "messages": messages,
        "key": key,
        "ids": ids,
        "rings": list(RadarRing.values),
        "domains": list(TechnologyDomain.values),
        "terms": [w.lower() for w in (*api_list.ADJECTIVES, *api_list.NOUNS)] + api_list.TAG_NAMES[20:40],
        "questions": questions,
        "topics": TOPICS,
        "pg_version": pg_version,
    }
    result_path.write_text(json.dumps(data), encoding="utf-8")
    return 0


# --- the parent -----------------------------------------------------------------------------


def server_env() -> dict[str, str | None]:
    """What the Chroma server, the preparing child and gunicorn share."""
    return {
        "DATABASE_URL": load_database_url(),
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "CHROMA_PATH": str(CHROMA_DIR),
        "MEDIA_ROOT": str(MEDIA_DIR),
        "EMBEDDING_BACKEND": "local",
        "JSON_LOGS": "true",
        "LOG_LEVEL": "INFO",
        "PROMETHEUS_MULTIPROC_DIR": None,
    }


def child_env(values: dict[str, str | None]) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in values.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def prepare(values: dict[str, str | None], tmp: Path) -> dict[str, Any]:
    result = tmp / "prepare.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.loadtest", "--prepare", str(result)],
        cwd=BASE_DIR,
        env=child_env(values),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0 or not result.exists():
        raise BenchmarkError(f"preparing {DATABASE} failed ({proc.returncode}):\n{proc.stderr.decode()[-3000:]}")
    data: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    return data


def request_maker(data: dict[str, Any]) -> Callable[[Any], Request]:
    kinds = list(MIX)
    weights = [MIX[k] for k in kinds]
    ids, rings, domains = data["ids"], data["rings"], data["domains"]
    terms, questions, topics = data["terms"], data["questions"], data["topics"]
    pages = len(ids) // 25

    def make(rng: Any) -> Request:
        kind = rng.choices(kinds, weights)[0]
        if kind == "list":
            return Request(kind, "GET", f"/api/v1/technologies/?page={rng.randint(1, pages)}")
        if kind == "detail":
            return Request(kind, "GET", f"/api/v1/technologies/{rng.choice(ids)}/")
        if kind == "filter":
            return Request(kind, "GET", f"/api/v1/technologies/?ring={rng.choice(rings)}&domain={rng.choice(domains)}")
        if kind == "search":
            return Request(kind, "GET", f"/api/v1/technologies/?search={quote(rng.choice(terms))}")
        question = f"{rng.choice(questions)} ({rng.choice(topics)})"
        return Request(kind, "POST", "/api/v1/knowledge/query/", json.dumps({"query": question}).encode())

    return make


@dataclass(frozen=True)
class Scraped:
    knowledge_hits: float
    knowledge_misses: float


def scrape(port: int) -> Scraped:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        text = response.read().decode()
    finally:
        conn.close()
    if response.status != 200:
        raise BenchmarkError(f"GET /metrics answered {response.status}")
    found = {"hit": 0.0, "miss": 0.0}
    for line in text.splitlines():
        if line.startswith("commandcenter_cache_operations_total{") and 'operation="knowledge_query"' in line:
            for result in found:
                if f'result="{result}"' in line:
                    found[result] += float(line.rpartition(" ")[2])
    return Scraped(found["hit"], found["miss"])


def workers_cpu(arbiter: int) -> float | None:
    from benchmarks.middleware import workers_cpu_seconds

    return workers_cpu_seconds(arbiter)


@dataclass
class LoadRun:
    mix: MixResult
    baseline: MixResult
    warmup: MixResult
    workers_cpu: float | None
    scraped: Scraped
    load_before: float
    load_after: float


def run() -> Report:
    started = time.monotonic()
    values = server_env()
    with tempfile.TemporaryDirectory(prefix="cc-bench-load-") as name:
        tmp = Path(name)
        CHROMA_DIR.mkdir(parents=True, exist_ok=True)
        progress(f"starting a Chroma server on {CHROMA_DIR.relative_to(BASE_DIR)}")
        with chroma_server(child_env(values), OUT_DIR / f"{NAME}.chroma.log") as chroma_url:
            values["CHROMA_URL"] = chroma_url
            progress(f"preparing {DATABASE} (created, migrated and seeded on first use)")
            data = prepare(values, tmp)
            for message in data["messages"]:
                progress(message)
            headers = {"Authorization": f"Bearer {data['key']}"}
            prom_dir = tmp / "prometheus"
            prom_dir.mkdir()
            with (
                environment(**{**values, "PROMETHEUS_MULTIPROC_DIR": str(prom_dir)}),
                gunicorn(
                    workers=WORKERS,
                    probe_path="/api/v1/technologies/?page_size=1",
                    probe_headers=headers,
                    log_path=OUT_DIR / f"{NAME}.gunicorn.log",
                ) as server,
            ):
                result = load(server.host, server.port, server.pid, headers, data)
    report = build_report(result, data)
    progress(f"done in {time.monotonic() - started:.0f} s")
    return report


def load(host: str, port: int, arbiter: int, headers: dict[str, str], data: dict[str, Any]) -> LoadRun:
    make = request_maker(data)
    load_before = os.getloadavg()[0]
    progress(f"warm-up: {CLIENTS} clients, {WARMUP_SECONDS:.0f} s of the mix")
    warmup = run_mix(host, port, headers, make, clients=CLIENTS, seconds=WARMUP_SECONDS, seed=SEED)
    before = scrape(port)
    cpu_before = workers_cpu(arbiter)
    progress(f"load: {CLIENTS} clients, {SECONDS:.0f} s of the mix {MIX}")
    mix = run_mix(host, port, headers, make, clients=CLIENTS, seconds=SECONDS, seed=SEED + 1)
    cpu_after = workers_cpu(arbiter)
    after = scrape(port)
    progress(f"baseline: {CLIENTS} clients, {BASELINE_SECONDS:.0f} s of GET {TRIVIAL_PATH}")
    baseline = run_mix(
        host,
        port,
        headers,
        lambda rng: Request("trivial", "GET", TRIVIAL_PATH),
        clients=CLIENTS,
        seconds=BASELINE_SECONDS,
        seed=SEED + 2,
    )
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    scraped = Scraped(after.knowledge_hits - before.knowledge_hits, after.knowledge_misses - before.knowledge_misses)
    return LoadRun(mix, baseline, warmup, cpu, scraped, load_before, os.getloadavg()[0])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def build_report(r: LoadRun, data: dict[str, Any]) -> Report:
    mix, base = r.mix, r.baseline
    every = mix.all_latencies()
    base_all = base.all_latencies()
    kinds = [k for k in MIX if k in mix.latencies or k in mix.errors]
    rows: list[Sequence[str]] = []
    for kind in kinds:
        values = mix.latencies.get(kind, [])
        rows.append(
            [
                kind,
                f"{MIX[kind]} %",
                str(len(values) + mix.errors.get(kind, 0)),
                str(mix.errors.get(kind, 0)),
                f"{len(values) / mix.seconds:.1f}",
                ms(percentile(values, 50)),
                ms(percentile(values, 95)),
                ms(percentile(values, 99)),
                ms(max(values, default=0.0)),
            ]
        )
    rows.append(
        [
            "all",
            "100 %",
            str(mix.requests),
            str(mix.error_count),
            f"{mix.throughput:.1f}",
            ms(percentile(every, 50)),
            ms(percentile(every, 95)),
            ms(percentile(every, 99)),
            ms(max(every, default=0.0)),
        ]
    )
    rows.append(
        [
            f"baseline: GET {TRIVIAL_PATH}",
            "-",
            str(base.requests),
            str(base.error_count),
            f"{base.throughput:.1f}",
            ms(percentile(base_all, 50)),
            ms(percentile(base_all, 95)),
            ms(percentile(base_all, 99)),
            ms(max(base_all, default=0.0)),
        ]
    )
    table = Table(
        f"{mix.clients} clients, {mix.seconds:.1f} s (closed loop; latency in ms, client side, queueing included)",
        ["request", "share", "requests", "errors", "req/s", "p50", "p95", "p99", "max"],
        rows,
        align="lrrrrrrrr",
    )
    gen_share = mix.client_cpu / mix.seconds
    worker_share = None if r.workers_cpu is None else r.workers_cpu / mix.seconds
    lookups = r.scraped.knowledge_hits + r.scraped.knowledge_misses
    hit_share = r.scraped.knowledge_hits / lookups if lookups else 0.0
    setup = Text(
        textwrap.fill(
            f"Run {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {os.cpu_count()} CPUs, load average "
            f"{r.load_before:.2f} before and {r.load_after:.2f} after. gunicorn "
            f"{importlib.metadata.version('gunicorn')}, {WORKERS} sync workers (the production default), "
            f"benchmarks.settings (the project's middleware, authentication and throttling; throttle rates out of "
            f"reach), JSON logs at INFO to benchmarks/out/{NAME}.gunicorn.log, PROMETHEUS_MULTIPROC_DIR set; "
            f"PostgreSQL {data['pg_version']} database {DATABASE} with {len(data['ids']):,} technologies (3-4 tags "
            f"each), 40 repositories, {RESEARCH_TASKS} research tasks and {DOCUMENTS} knowledge documents in a "
            f"Chroma server (manage.py run_chroma, CHROMA_URL) with the local ONNX embedder; API-key "
            f"authentication (Bearer). Python {platform.python_version()}. Requests: list = "
            f"/api/v1/technologies/?page=N (25 a page), detail = /api/v1/technologies/ID/, filter = "
            f"?ring=R&domain=D, search = ?search=WORD (title, vendor, description, tag names), knowledge = POST "
            f"/api/v1/knowledge/query/ with one of {len(data['questions'])} questions and one of "
            f"{len(data['topics'])} topics. Warm-up {r.warmup.seconds:.0f} s ({r.warmup.requests} requests, "
            f"{r.warmup.error_count} errors), not counted.",
            width=110,
        )
    )
    cpu_note = "" if worker_share is None else f"; the gunicorn workers used {worker_share:.2f} CPUs"
    notes = Text(
        textwrap.fill(
            f"Errors: {mix.error_count} of {mix.requests} requests "
            f"({'target met' if mix.error_count == 0 else 'target MISSED'}: none). "
            f"The load generator (Python threads with http.client, this process) runs on the same "
            f"{os.cpu_count()} cores as the server: it used {gen_share:.2f} CPUs during the run{cpu_note}, "
            f"so the server had less than the whole machine. Knowledge queries: {hit_share * 100:.0f}% answered "
            f"from the query cache ({r.scraped.knowledge_hits:.0f} hits, {r.scraped.knowledge_misses:.0f} "
            "misses that embedded the question and searched Chroma; each gunicorn worker has its own "
            "local-memory cache here). Sync workers answer one request at a time and close the connection: "
            "the clients' latency includes the wait in the listen queue.",
            width=110,
        )
    )
    if mix.error_samples:
        notes.text += "\nFirst errors:\n  " + "\n  ".join(mix.error_samples[:5])
    ratio = mix.throughput / base.throughput if base.throughput else 0.0
    summary = [
        SummaryRow(
            f"Load test throughput, {mix.clients} clients x {mix.seconds:.0f} s, mixed API traffic",
            f"{mix.throughput:.0f} req/s",
            f"{base.throughput:.0f} req/s (trivial view)",
            f"{ratio:.2f}",
        ),
        SummaryRow(
            "Load test errors",
            f"{mix.error_count} of {mix.requests}",
            f"{base.error_count} of {base.requests}",
            "-",
            "0",
            mix.error_count == 0,
        ),
    ]
    for p in (50, 95, 99):
        value, baseline = percentile(every, p), percentile(base_all, p)
        summary.append(
            SummaryRow(
                f"Load test latency p{p}, all requests",
                f"{ms(value)} ms",
                f"{ms(baseline)} ms (trivial view)",
                f"{value / baseline:.1f}" if baseline else "-",
            )
        )
    return Report(NAME, TITLE, [setup, table, notes], summary)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--prepare":
        sys.exit(child_prepare(Path(sys.argv[2])))
    sys.exit("usage: python -m benchmarks loadtest  (this module's own entry point is for its child)")
