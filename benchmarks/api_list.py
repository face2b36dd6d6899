"""GET /api/v1/technologies/?page_size=50 against its floor and against stock DRF.

(a) the real endpoint, (b) "the floor" - the same page from a raw cursor and ``json``
(``benchmarks.views.technology_list_floor``), (c) "stock DRF" - a plain ``ModelSerializer``
and ``ListAPIView`` (``benchmarks.views.StockTechnologyListView``). All three go through the
project's middleware and the same API-key query, on gunicorn (2 sync workers) and PostgreSQL.
Target: (a) reaches at least 40% of the floor's throughput.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import random
import re
import statistics
import sys
import textwrap
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from benchmarks.db import database_url, setup_django
from benchmarks.errors import BenchmarkError
from benchmarks.load import Endpoint, LoadResult, round_ratios, run_load
from benchmarks.report import OUT_DIR, Report, SummaryRow, Table, Text
from benchmarks.server import gunicorn

NAME = "api_list"
TITLE = "API list: GET /api/v1/technologies/?page_size=50"

PAGE_SIZE = 50
ENDPOINTS = [
    Endpoint("a", "API (real)", f"/api/v1/technologies/?page_size={PAGE_SIZE}"),
    Endpoint("b", "floor (raw SQL + json)", f"/bench/technologies/floor/?page_size={PAGE_SIZE}"),
    Endpoint("c", "stock DRF", f"/bench/technologies/stock/?page_size={PAGE_SIZE}"),
]
TARGET_VS_FLOOR = 0.4

WORKERS = 2
CONCURRENCY = 4
WARMUP = 40  # requests per endpoint, not measured
PER_ROUND = 48  # requests per endpoint per round
ROUNDS = 20
TIME_BUDGET = 75.0  # seconds of measured load at most; the current round always completes

# --- data set -------------------------------------------------------------------------------

TECHNOLOGY_COUNT = 1000
SLUG_PREFIX = "bench-"
REPOSITORY_OWNER = "bench-org"
REPOSITORY_COUNT = 40
BENCH_USERNAME = "bench"
KEY_NAME = "benchmarks"

TAG_NAMES = [
    *("python", "go", "rust", "typescript", "java", "kotlin", "c", "cpp", "sql", "bash"),
    *("web", "api", "queue", "cache", "database", "search", "vector-db", "rag", "llm", "embeddings"),
    *("observability", "logging", "metrics", "tracing", "alerting", "security", "auth", "crypto", "secrets", "sbom"),
    *("kubernetes", "docker", "serverless", "edge", "cdn", "networking", "storage", "backup", "streaming", "batch"),
    *("frontend", "design-system", "testing", "ci", "cd", "linting", "packaging", "build", "profiling", "ml-ops"),
    *(
        "open-source",
        "saas",
        "self-hosted",
        "managed",
        "experimental",
        "stable",
        "deprecated",
        "cloud",
        "on-prem",
        "gpu",
    ),
]
ADJECTIVES = [
    *("Adaptive", "Blazing", "Cloud", "Distributed", "Elastic", "Fast", "Graph", "Hyper", "Instant", "Jet"),
    *("Kinetic", "Lean", "Micro", "Nimble", "Open", "Polar", "Quantum", "Rapid", "Stream", "Turbo"),
]
NOUNS = [
    *("Broker", "Cache", "Compiler", "Dashboard", "Engine", "Framework", "Gateway", "Index", "Kit", "Lake"),
    *("Mesh", "Notebook", "Orchestrator", "Pipeline", "Proxy", "Queue", "Runtime", "Scheduler", "Store", "Vault"),
]
SENTENCES = [
    "Evaluated as a replacement for the current in-house tooling.",
    "Strong community, frequent releases and a permissive licence.",
    "Integrates with the existing Prometheus and Grafana stack.",
    "Needs a proof of concept on production-sized data before a decision.",
    "The managed offering removes most of the operational burden.",
    "Known limitations around multi-region deployments and backups.",
    "Used by two teams already; feedback has been positive so far.",
    "Benchmarks show a clear gain for read-heavy workloads.",
]


def seed(count: int = TECHNOLOGY_COUNT) -> str:
    """Load ``count`` technologies unless they are already there (idempotent); return what was done."""
    from django.db import transaction

    from apps.repositories.models import Repository
    from apps.technologies.choices import RadarRing, TechnologyDomain, TechnologyStatus
    from apps.technologies.models import Tag, Technology

    tag_through = Technology.tags.through
    repo_through = Technology.repositories.through
    bench = Technology.objects.filter(slug__startswith=SLUG_PREFIX)
    tag_links = tag_through.objects.filter(technology__slug__startswith=SLUG_PREFIX).count()
    if bench.count() == count and tag_links >= 3 * count:
        return f"already seeded ({count} technologies, {tag_links} tag links)"

    rng = random.Random(20240601)
    with transaction.atomic():
        bench.delete()
        Tag.objects.bulk_create([Tag(name=n) for n in TAG_NAMES], ignore_conflicts=True)
        tags = list(Tag.objects.filter(name__in=TAG_NAMES))
        Repository.objects.bulk_create(
            [
                Repository(
                    owner=REPOSITORY_OWNER,
                    name=f"service-{i:02d}",
                    full_name=f"{REPOSITORY_OWNER}/service-{i:02d}",
                    url=f"https://github.com/{REPOSITORY_OWNER}/service-{i:02d}",
                    clone_url=f"https://github.com/{REPOSITORY_OWNER}/service-{i:02d}.git",
                    description=rng.choice(SENTENCES),
                    language=rng.choice(["Python", "Go", "Rust", "TypeScript"]),
                    stars=rng.randint(0, 50000),
                )
                for i in range(REPOSITORY_COUNT)
            ],
            ignore_conflicts=True,
        )
        repositories = list(Repository.objects.filter(owner=REPOSITORY_OWNER))
        technologies = Technology.objects.bulk_create(
            [
                Technology(
                    title=f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {i:04d}",
                    slug=f"{SLUG_PREFIX}{i:04d}",
                    vendor=f"Vendor {rng.randint(1, 120)}",
                    domain=rng.choice(TechnologyDomain.values),
                    status=rng.choice(TechnologyStatus.values),
                    ring=rng.choice([*RadarRing.values, ""]),
                    relevance_score=rng.randint(0, 100),
                    priority=rng.randint(1, 5),
                    description=" ".join(rng.sample(SENTENCES, 3)),
                    notes=rng.choice(SENTENCES),
                    use_cases=rng.choice(SENTENCES),
                    documentation_url=f"https://docs.example.com/tech-{i:04d}/",
                    repository_url=f"https://github.com/example/tech-{i:04d}" if i % 2 else "",
                    website_url=f"https://tech-{i:04d}.example.com/",
                )
                for i in range(count)
            ]
        )
        tag_through.objects.bulk_create(
            [
                tag_through(technology_id=t.pk, tag_id=tag.pk)
                for t in technologies
                for tag in rng.sample(tags, rng.choice((3, 4)))
            ]
        )
        repo_through.objects.bulk_create(
            [
                repo_through(technology_id=t.pk, repository_id=r.pk)
                for t in technologies
                if rng.random() < 0.4
                for r in rng.sample(repositories, rng.choice((1, 2)))
            ]
        )
    return f"seeded {count} technologies, {len(TAG_NAMES)} tags, {len(repositories)} repositories"


def issue_key() -> str:
    """A superuser ``bench`` with one fresh API key (the previous bench keys are deleted)."""
    from django.contrib.auth.models import User

    from apps.core.models import APIKey
    from apps.core.services import issue_api_key

    user, created = User.objects.get_or_create(
        username=BENCH_USERNAME, defaults={"is_superuser": True, "is_staff": True, "email": "bench@example.com"}
    )
    if created:
        user.set_unusable_password()
        user.save()
    elif not (user.is_superuser and user.is_active):
        User.objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True, is_active=True)
    APIKey.objects.filter(user=user, name=KEY_NAME).delete()
    return issue_api_key(user, name=KEY_NAME).key


# --- query counts (in process, Django's test client) ------------------------------------------

WRITE = re.compile(r"^\s*(UPDATE|INSERT|DELETE)\b", re.IGNORECASE)


def shorten_sql(sql: str, width: int = 110) -> str:
    """Enough of a query to tell what it is for: no quotes, column lists, join conditions,
    table prefixes, literals or id lists."""
    text = " ".join(sql.replace('"', "").split())
    select = re.match(r"SELECT (.*?) FROM ", text)
    if select and len(select.group(1)) > 24:
        text = "SELECT … FROM " + text[select.end() :]
    text = re.sub(r" ON \([^()]*\)", "", text)
    text = re.sub(r"\b[a-z_][a-z0-9_]*\.([a-z_][a-z0-9_]*)", r"\1", text)
    text = re.sub(r"'[^']*'(::\w+)?", "?", text).replace("INNER JOIN", "JOIN")
    text = re.sub(r"IN \((\d+(?:, \d+)+)\)", lambda m: f"IN ({m.group(1).count(',') + 1} ids)", text)
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True)
class Captured:
    path: str
    queries: list[str]

    @property
    def writes(self) -> list[str]:
        return [q for q in self.queries if WRITE.match(q)]


def capture(path: str, key: str) -> Captured:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(headers={"Authorization": f"Bearer {key}", "Host": "127.0.0.1"})
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    if response.status_code != 200:
        raise BenchmarkError(f"GET {path} (in process) answered {response.status_code}: {response.content[:300]!r}")
    return Captured(path, [q["sql"] for q in ctx.captured_queries])


# --- the three answers must be the same page ------------------------------------------------


def check_same_page(bodies: dict[str, bytes]) -> None:
    """(b) and (c) must return what (a) returns, or the comparison means nothing."""
    pages: dict[str, Any] = {label: json.loads(body) for label, body in bodies.items()}
    reference = pages["a"]
    if len(reference["results"]) != PAGE_SIZE:
        raise BenchmarkError(f"(a) returned {len(reference['results'])} rows, expected {PAGE_SIZE}")
    for label, page in pages.items():
        problems = []
        if page["count"] != reference["count"]:
            problems.append(f"count {page['count']} != {reference['count']}")
        if urlsplit(page["next"] or "").query != urlsplit(reference["next"] or "").query:
            problems.append(f"next {page['next']} vs {reference['next']}")
        for mine, theirs in zip(page["results"], reference["results"], strict=False):
            if mine != theirs:
                keys = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
                problems.append(f"row id={theirs.get('id')} differs in {keys}")
                break
        if len(page["results"]) != len(reference["results"]):
            problems.append(f"{len(page['results'])} rows vs {len(reference['results'])}")
        if problems:
            raise BenchmarkError(f"({label}) does not return the same page as (a): {'; '.join(problems)}")


def fetch(port: int, path: str, headers: dict[str, str]) -> bytes:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise BenchmarkError(f"GET {path} answered {response.status}: {body[:300]!r}")
    return body


# --- the run --------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"[{NAME}] {message}", file=sys.stderr, flush=True)


def run() -> Report:
    started = time.monotonic()
    setup_django()
    url = urlsplit(database_url())
    progress(f"migrated PostgreSQL {url.hostname}:{url.port or 5432}{url.path}")

    import django
    import rest_framework
    from django.db import connection

    progress(seed())
    key = issue_key()
    headers = {"Authorization": f"Bearer {key}"}

    progress("counting queries in process")
    first_use = capture(f"/api/v1/technologies/?page_size={PAGE_SIZE}", key)
    small = capture("/api/v1/technologies/?page_size=10", key)
    large = capture("/api/v1/technologies/?page_size=100", key)
    per_endpoint = {e.label: capture(e.path, key) for e in ENDPOINTS}
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (pg_version,) = cursor.fetchone()
    connection.close()

    progress(f"starting gunicorn ({WORKERS} sync workers)")
    with gunicorn(
        workers=WORKERS, probe_path=ENDPOINTS[0].path, probe_headers=headers, log_path=OUT_DIR / f"{NAME}.gunicorn.log"
    ) as server:
        check_same_page({e.label: fetch(server.port, e.path, headers) for e in ENDPOINTS})
        progress(
            f"load: {CONCURRENCY} clients, warm-up {WARMUP}, up to {ROUNDS} rounds x {PER_ROUND} requests per endpoint"
        )
        load = run_load(
            server.host,
            server.port,
            headers,
            ENDPOINTS,
            concurrency=CONCURRENCY,
            warmup=WARMUP,
            per_round=PER_ROUND,
            rounds=ROUNDS,
            time_budget=TIME_BUDGET,
        )

    versions = (
        f"Python {platform.python_version()}, Django {django.get_version()}, DRF {rest_framework.VERSION}, "
        f"gunicorn {importlib.metadata.version('gunicorn')}, PostgreSQL {pg_version}, {os.cpu_count()} CPUs"
    )
    report = build_report(load, per_endpoint, first_use, small, large, versions)
    progress(f"done in {time.monotonic() - started:.0f} s")
    return report


def build_report(
    load: LoadResult,
    per_endpoint: dict[str, Captured],
    first_use: Captured,
    small: Captured,
    large: Captured,
    versions: str,
) -> Report:
    s = load.samples
    throughput = Table(
        "Throughput and latency (closed loop, interleaved rounds)",
        ["", "endpoint", "path", "requests", "req/s", "p50 ms", "p95 ms", "queries", "KB/resp"],
        [
            [
                f"({e.label})",
                e.name,
                e.path,
                str(s[e.label].requests),
                f"{s[e.label].throughput:.1f}",
                f"{s[e.label].percentile(50) * 1000:.1f}",
                f"{s[e.label].percentile(95) * 1000:.1f}",
                str(len(per_endpoint[e.label].queries)),
                f"{s[e.label].response_bytes / max(s[e.label].requests, 1) / 1024:.1f}",
            ]
            for e in ENDPOINTS
        ],
        align="lllrrrrrr",
    )

    def ratio_row(label: str, num: str, den: str, target: float | None) -> list[str]:
        overall = s[num].throughput / s[den].throughput
        per_round = round_ratios(s[num], s[den])
        median = statistics.median(per_round)
        if target is None:
            return [label, f"{overall:.2f}", f"{median:.2f}", f"{min(per_round):.2f}-{max(per_round):.2f}", "-", "-"]
        return [
            label,
            f"{overall:.2f}",
            f"{median:.2f}",
            f"{min(per_round):.2f}-{max(per_round):.2f}",
            f">= {target:.2f}",
            "target met" if median >= target else "target MISSED",
        ]

    ratios = Table(
        "Throughput ratios (verdict on the median of the per-round ratios, robust to bursts of machine noise)",
        ["ratio", "overall", "median/round", "range/round", "target", "result"],
        [
            ratio_row("(a)/(b) vs floor", "a", "b", TARGET_VS_FLOOR),
            ratio_row("(a)/(c) vs stock DRF", "a", "c", None),
            ratio_row("(c)/(b) stock DRF vs floor", "c", "b", None),
        ],
        align="lrrrrl",
    )
    setup = Text(
        textwrap.fill(
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Setup: gunicorn {WORKERS} sync workers on 127.0.0.1, "
            "all project middleware; "
            f"{load.concurrency} client threads (http.client), warm-up {load.warmup} requests per endpoint, "
            f"{load.rounds} rounds x {load.per_round} requests per endpoint, interleaved a, b, c"
            f"{' (stopped early: time budget)' if load.stopped_early else ''}; "
            f"{TECHNOLOGY_COUNT} technologies with 3-4 tags each, ~40% with 1-2 repositories. {versions}.",
            width=110,
        )
    )

    def query_table(captured: Captured) -> Table:
        return Table(
            f"SQL for GET {captured.path}: {len(captured.queries)} queries",
            ["#", "kind", "SQL (shortened)"],
            [
                [str(i), "write" if WRITE.match(q) else "read", shorten_sql(q)]
                for i, q in enumerate(captured.queries, start=1)
            ],
            align="rll",
        )

    auth = Table(
        "Database writes per request (authentication must not write on every request)",
        ["request", "writes", "statements"],
        [
            [
                f"1st with a fresh key: {first_use.path}",
                str(len(first_use.writes)),
                "; ".join(shorten_sql(q, 70) for q in first_use.writes) or "-",
            ],
            [f"2nd: {small.path}", str(len(small.writes)), "; ".join(shorten_sql(q, 70) for q in small.writes) or "-"],
            [f"3rd: {large.path}", str(len(large.writes)), "; ".join(shorten_sql(q, 70) for q in large.writes) or "-"],
        ],
        align="lrl",
    )
    wrote = bool(small.writes or large.writes)
    verdict = Text(
        f"Authentication wrote to the database on a later request: {'YES' if wrote else 'no'}"
        f" (last_used_at is written at most once per 5 minutes per key)."
    )
    vs_floor = statistics.median(round_ratios(s["a"], s["b"]))
    summary = [
        SummaryRow(
            f"API list req/s (page of {PAGE_SIZE}) vs the floor (raw SQL + json)",
            f"{s['a'].throughput:.0f} req/s",
            f"{s['b'].throughput:.0f} req/s",
            f"{vs_floor:.2f}",
            f">= {TARGET_VS_FLOOR:.2f}",
            vs_floor >= TARGET_VS_FLOOR,
        ),
        SummaryRow(
            "API list vs stock DRF (ModelSerializer + prefetch)",
            f"{s['a'].throughput:.0f} req/s",
            f"{s['c'].throughput:.0f} req/s",
            f"{statistics.median(round_ratios(s['a'], s['c'])):.2f}",
        ),
        SummaryRow(
            "SQL queries per list request (page size 10 / 50 / 100)",
            f"{len(small.queries)} / {len(per_endpoint['a'].queries)} / {len(large.queries)}",
            f"{len(per_endpoint['b'].queries)} (floor)",
            f"{len(per_endpoint['a'].queries) / len(per_endpoint['b'].queries):.2f}",
            "same at every page size, no writes",
            len(small.queries) == len(large.queries) == len(per_endpoint["a"].queries) and not wrote,
        ),
    ]
    return Report(
        NAME,
        TITLE,
        [setup, throughput, ratios, query_table(small), query_table(large), auth, verdict],
        summary,
    )
