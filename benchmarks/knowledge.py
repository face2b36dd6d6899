"""Knowledge base: ingest throughput and query latency at 10,000 and 100,000 chunks.

Everything is measured in one child process (``python -m benchmarks.knowledge --measure``)
with its own environment, set before Django is: a scratch SQLite database (migrated by
``manage.py migrate`` in a subprocess first), fresh embedded Chroma stores in a temporary
directory, ``MEDIA_ROOT`` there too, the local ONNX embedder and a local-memory cache.

1. Ingest: a generated Markdown corpus (fixed seed, no download) through the app's bulk path
   (``manage.py ingest_documents``, the rebuild) - ``services.create_from_file`` for each file,
   then ``services.ingest_many`` (parse, chunk, embed and write to Chroma several documents at
   a time, the database bookkeeping) - against the floor: the same chunk
   inputs embedded with ``LocalEmbedder.embed`` in batches of 64 and ``collection.add``-ed with
   explicit embeddings into another fresh collection of the same store. The two alternate,
   round by round, so that noise from other work on the machine hits both. Target: the app
   reaches at least 0.8x the floor's chunks/s.
2. Query: two stores filled with synthetic unit vectors (clustered, 384 dimensions) and
   app-like metadata; ``apps.knowledge.index.query`` timed on each, with and without a
   ``category`` filter, the sizes and variants interleaved query by query; ``services.search``
   end to end (embedding + Chroma + title lookup, cache cleared before each call) at 10,000.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.errors import BenchmarkError
from benchmarks.report import Report, SummaryRow, Table, Text
from benchmarks.server import BASE_DIR

NAME = "knowledge"
TITLE = "Knowledge base: ingest throughput and query latency (local ONNX embedder, embedded Chroma)"

SETTINGS_MODULE = "benchmarks.settings"
SEED = 20241126

# --- ingest ---------------------------------------------------------------------------------
DOCUMENTS = 300
ROUNDS = 30  # small rounds: a burst of other work on the machine lands on a few seconds of one path
ROUND_BLOCKS = 5  # the report groups the rounds into this many blocks, in order
WARMUP_DOCUMENTS = 4  # per path, before the measured rounds; not counted
DIRECT_BATCH = 64
DIRECT_COLLECTION = "bench-direct-add"
MIN_CHUNKS = 1500
TARGET_RATIO = 0.8

# --- query ----------------------------------------------------------------------------------
SIZES = (10_000, 100_000)
DIMENSION = 384
CENTROIDS = 300
# Per-dimension noise around a centroid: cosine(vector, centroid) is about 1/sqrt(1 + 384 s^2) = 0.7.
SPREAD = 0.052
CHUNKS_PER_DOCUMENT = 6
QUERIES = 200  # per variant (size x filter)
QUERY_WARMUP = 10
QUESTION_QUERIES = 100  # of QUERIES: embeddings of real questions (cycled), the rest perturbed stored vectors
SEARCH_CALLS = 100
LIMIT = 5
QUESTIONS_FILE = BASE_DIR / "apps" / "knowledge" / "tests" / "data" / "questions.json"

CHILD_TIMEOUT = 600

# --- corpus ---------------------------------------------------------------------------------

CATEGORIES = ["operations", "databases", "observability", "security", "networking", "ci-cd", "ml", "storage"]
TOPICS = [
    *("replication", "sharding", "connection pooling", "cache invalidation", "rate limiting"),
    *("schema migrations", "log retention", "alert routing", "blue-green deployments", "feature flags"),
    *("message queues", "vector search", "TLS termination", "secret rotation", "backup verification"),
    *("autoscaling", "service discovery", "distributed tracing", "container builds", "canary releases"),
    *("index compaction", "write-ahead logging", "leader election", "consumer lag", "cold storage tiers"),
]
COMPONENTS = [
    *("PostgreSQL", "Redis", "Kafka", "Chroma", "the Celery worker", "gunicorn", "Traefik", "Prometheus"),
    *("Grafana", "Loki", "Kubernetes", "the load balancer", "the API gateway", "the scheduler", "S3"),
    *("nginx", "etcd", "the CI runner", "Alertmanager", "the object store", "the embedding service"),
]
ADJECTIVES = [
    *("incremental", "idempotent", "asynchronous", "stateless", "sharded", "replicated", "bounded", "lazy"),
    *("optimistic", "batched", "versioned", "encrypted", "compressed", "partitioned", "cached", "immutable"),
]
NOUNS = [
    *("snapshot", "checkpoint", "manifest", "retry policy", "circuit breaker", "health probe", "lease"),
    *("token bucket", "connection pool", "dead-letter queue", "read replica", "bloom filter", "HNSW graph"),
    *("write buffer", "compaction job", "partition key", "rollout plan", "runbook", "dashboard", "quota"),
]
VERBS = [
    *("throttles", "replicates", "compacts", "buffers", "retries", "evicts", "batches", "shards"),
    *("indexes", "snapshots", "streams", "validates", "rebalances", "caches", "rotates", "prunes"),
]
METRICS = [
    *("p99 latency", "throughput", "the error ratio", "queue depth", "the memory footprint", "disk usage"),
    *("cold-start time", "replication lag", "the cache hit ratio", "CPU time per request", "recovery time"),
]
EVENTS = [
    *("a node restarts", "the primary fails over", "traffic doubles", "a deploy is rolled back"),
    *("the disk fills up", "a certificate expires", "the network partitions", "a batch job overruns"),
    *("the broker reconnects", "a tenant exceeds its quota", "the nightly backup starts"),
]
SETTINGS_NAMES = [
    *("max_connections", "maxmemory-policy", "visibility_timeout", "retention_period", "worker_concurrency"),
    *("statement_timeout", "keepalive_interval", "ef_search", "batch_size", "lock_timeout", "max_requests"),
]
SYMPTOMS = [
    *("requests pile up behind a single slow query", "jobs silently disappear from the queue"),
    *("the dashboard shows gaps every few minutes", "memory grows until the process is killed"),
    *("clients see intermittent 502 responses", "the same message is processed twice"),
    *("alerts fire and resolve in a loop", "restores take hours instead of minutes"),
]
MISTAKES = [
    "share one Redis between the cache and the broker without a TTL on cache keys",
    *("run the migration and the deploy in the same step", "retry without jitter after an outage"),
    *("keep the store on a disk that is not backed up", "scrape every exporter every second"),
    *("open the same on-disk index from two processes", "log the full request body at INFO"),
]
HEADINGS = [
    *("Overview", "Configuration", "Failure modes", "Operations", "Monitoring", "Capacity planning"),
    *("Troubleshooting", "Security", "Migration notes", "Benchmarks", "Trade-offs", "Checklist"),
    *("Background", "Recovery", "Limits", "Rollout", "Costs", "Testing"),
]
TEMPLATES = [
    "{Component} {verb} the {noun} before {event}, which keeps {metric} under {number} {unit}.",
    "When {event}, {component} falls back to the {adjective} {noun} and logs a warning with the request id.",
    "Set `{setting}` to {number} so that {component} {verb} at most {number2} items per second.",
    "In our tests the {adjective} {noun} cut {metric} by {percent}% compared with the {adjective2} {noun2}.",
    "A common mistake is to {mistake}; the symptom is that {symptom}.",
    "The {noun} is derived data: it can be rebuilt from {component} at any time, so it is not backed up.",
    "Because {component} {verb} in the background, {metric} only rises after {event}.",
    "We page on {metric} only when it stays above {number} {unit} for ten minutes, never on one sample.",
    "Keep the {noun} {adjective}: {component} then {verb} it without a lock, even while {event}.",
    "Version {major}.{minor} of {component} changed the default of `{setting}`, so review it before upgrading.",
    "{Topic} matters most when {event}; without it {symptom}.",
    "The runbook says to drain {component}, wait for {metric} to settle and only then rotate the {noun}.",
    "Each tenant gets its own {noun}, sized from {metric} measured over the previous {number} days.",
    "If {symptom}, check `{setting}` first and compare {metric} with last week's baseline.",
]
UNITS = ["ms", "seconds", "MB", "requests", "percent", "connections"]


def _sentence(rng: random.Random, topic: str) -> str:
    template = rng.choice(TEMPLATES)
    values: dict[str, Any] = {
        "component": rng.choice(COMPONENTS),
        "verb": rng.choice(VERBS),
        "noun": rng.choice(NOUNS),
        "noun2": rng.choice(NOUNS),
        "adjective": rng.choice(ADJECTIVES),
        "adjective2": rng.choice(ADJECTIVES),
        "event": rng.choice(EVENTS),
        "metric": rng.choice(METRICS),
        "setting": rng.choice(SETTINGS_NAMES),
        "symptom": rng.choice(SYMPTOMS),
        "mistake": rng.choice(MISTAKES),
        "unit": rng.choice(UNITS),
        "number": rng.choice([2, 3, 5, 8, 10, 15, 30, 64, 100, 250, 500, 1000]),
        "number2": rng.choice([20, 50, 200, 400, 1200]),
        "percent": rng.randint(5, 80),
        "major": rng.randint(1, 9),
        "minor": rng.randint(0, 20),
        "topic": topic,
    }
    values["Component"] = values["component"][:1].upper() + values["component"][1:]
    values["Topic"] = topic[:1].upper() + topic[1:]
    return template.format(**values)


def _paragraph(rng: random.Random, topic: str) -> str:
    # Mostly short paragraphs; about one in twelve is long enough to be split into two chunks.
    sentences = rng.randint(11, 13) if rng.random() < 1 / 12 else rng.randint(1, 3)
    return " ".join(_sentence(rng, topic) for _ in range(sentences))


@dataclass(frozen=True)
class SourceDocument:
    number: int
    name: str
    title: str
    category: str
    text: str


def corpus(count: int, *, seed: int = SEED, start: int = 0) -> list[SourceDocument]:
    """``count`` Markdown documents: a title, an introduction and 3-6 more paragraphs, most
    under their own ``##`` heading. The same seed always gives the same documents."""
    rng = random.Random(seed + start)
    documents = []
    for number in range(start, start + count):
        topic = rng.choice(TOPICS)
        component = rng.choice(COMPONENTS)
        title = f"{topic[:1].upper()}{topic[1:]} with {component} (note {number:04d})"
        parts = [f"# {title}", _paragraph(rng, topic)]
        headings = rng.sample(HEADINGS, 6)
        for i in range(rng.randint(3, 6)):
            if i == 0 or rng.random() < 0.9:
                parts.append(f"## {headings[i]}")
            parts.append(_paragraph(rng, topic))
        documents.append(
            SourceDocument(
                number=number,
                name=f"note-{number:04d}.md",
                title=title,
                category=CATEGORIES[number % len(CATEGORIES)],
                text="\n\n".join(parts) + "\n",
            )
        )
    return documents


def progress(message: str) -> None:
    print(f"[{NAME}] {message}", file=sys.stderr, flush=True)


def p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94] if len(values) > 1 else values[0]


# --- child: ingest --------------------------------------------------------------------------


class Stopwatch:
    """Wall time spent in a wrapped callable (the wrapper costs about a microsecond a call)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        return timed


@dataclass(frozen=True)
class Prepared:
    """One document's chunks as the app would index them, for the direct path."""

    ids: list[str]
    inputs: list[str]  # what is embedded: heading + text, as services.ingest does
    texts: list[str]
    metadatas: list[dict[str, Any]]


def prepare(document: SourceDocument) -> Prepared:
    from apps.knowledge.chunking import chunk_text
    from apps.knowledge.models import DEFAULT_COLLECTION

    chunks = chunk_text(document.text)
    return Prepared(
        ids=[f"doc{document.number}-{c.index}" for c in chunks],
        inputs=[f"{c.heading}\n\n{c.text}" if c.heading else c.text for c in chunks],
        texts=[c.text for c in chunks],
        metadatas=[
            {
                "document_id": document.number,
                "chunk_index": c.index,
                "heading": c.heading,
                "title": document.title[:300],
                "category": document.category,
                "collection": DEFAULT_COLLECTION,
            }
            for c in chunks
        ],
    )


def ingest_app(documents: Sequence[SourceDocument]) -> int:
    """The app's bulk path, as ``manage.py ingest_documents`` and the rebuild take it: store
    every file as a document, then ``services.ingest_many`` (chunks of several documents
    embedded and written to Chroma together)."""
    from django.core.files.base import ContentFile

    from apps.knowledge import services

    ids = [
        services.create_from_file(
            ContentFile(document.text.encode(), name=document.name), title=document.title, category=document.category
        ).document.pk
        for document in documents
    ]
    chunks = 0
    for outcome in services.ingest_many(ids):
        if outcome.get("status") != "indexed":
            raise RuntimeError(f"document {outcome['document_id']} was not indexed: {outcome}")
        chunks += int(outcome["chunks"])
    return chunks


def ingest_direct(
    embedder: Any, target: Any, prepared: Sequence[Prepared], embed_watch: Stopwatch, add_watch: Stopwatch
) -> int:
    """The floor: the same inputs embedded 64 at a time and added with explicit embeddings."""
    ids = [i for p in prepared for i in p.ids]
    inputs = [i for p in prepared for i in p.inputs]
    texts = [t for p in prepared for t in p.texts]
    metadatas = [m for p in prepared for m in p.metadatas]
    embed, add = embed_watch.wrap(embedder.embed), add_watch.wrap(target.add)
    for start in range(0, len(ids), DIRECT_BATCH):
        end = start + DIRECT_BATCH
        vectors = embed(inputs[start:end])
        add(ids=ids[start:end], embeddings=vectors, documents=texts[start:end], metadatas=metadatas[start:end])
    return len(ids)


def compare_collections(app: Any, direct: Any) -> dict[str, Any]:
    """The two paths must have indexed the same chunks (same texts, near-identical vectors)."""
    import numpy as np

    def by_key(target: Any) -> dict[tuple[str, int], tuple[str, Any]]:
        got = target.get(include=["documents", "metadatas", "embeddings"])
        return {
            (str(m["title"]), int(m["chunk_index"])): (doc, np.asarray(vec, dtype=np.float32))
            for doc, m, vec in zip(got["documents"], got["metadatas"], got["embeddings"], strict=True)
        }

    a, b = by_key(app), by_key(direct)
    same_keys = set(a) == set(b)
    common = sorted(set(a) & set(b))
    texts_differ = sum(1 for k in common if a[k][0] != b[k][0])
    cosines = [float(np.dot(a[k][1], b[k][1])) for k in common]
    deltas = [float(np.max(np.abs(a[k][1] - b[k][1]))) for k in common]
    return {
        "app_chunks": len(a),
        "direct_chunks": len(b),
        "same_keys": same_keys,
        "texts_differ": texts_differ,
        "min_cosine": min(cosines) if cosines else 0.0,
        "max_abs_delta": max(deltas) if deltas else 0.0,
    }


def measure_ingest() -> dict[str, Any]:
    import numpy as np

    from apps.knowledge import index
    from apps.knowledge.embeddings import LocalEmbedder, get_embedder

    embedder = get_embedder()
    if not isinstance(embedder, LocalEmbedder):
        raise RuntimeError(f"the configured embedder is {type(embedder).__name__}, not the local ONNX model")
    direct_embedder = LocalEmbedder()  # same process-wide ONNX session and tokenizer, default batch size
    embedder.embed(["warm up the model"])

    warm = corpus(WARMUP_DOCUMENTS, start=DOCUMENTS)
    documents = corpus(DOCUMENTS)
    prepared = {d.number: prepare(d) for d in [*warm, *documents]}
    inputs = [i for d in documents for i in prepared[d.number].inputs]
    tokens = [sum(e.attention_mask) for e in embedder.runtime.tokenizer.encode_batch(inputs)]
    if len(inputs) < MIN_CHUNKS:
        raise RuntimeError(f"the corpus gives {len(inputs)} chunks, fewer than {MIN_CHUNKS}")

    index.collection(embedder.model_name)  # both collections exist (empty) before the first timing
    direct = index.client().get_or_create_collection(
        DIRECT_COLLECTION, embedding_function=None, metadata={"hnsw:space": "cosine"}
    )
    ingest_app(warm)
    ingest_direct(direct_embedder, direct, [prepared[d.number] for d in warm], Stopwatch(), Stopwatch())

    # The app's own calls, timed in place (index.upsert and index.delete_leftovers via the
    # module attributes services uses, embed on the cached embedder instance).
    app_embed, app_index = Stopwatch(), Stopwatch()
    direct_embed, direct_add = Stopwatch(), Stopwatch()
    original_upsert, original_leftovers = index.upsert, index.delete_leftovers
    index.upsert = app_index.wrap(original_upsert)
    index.delete_leftovers = app_index.wrap(original_leftovers)
    embedder.embed = app_embed.wrap(embedder.embed)  # type: ignore[method-assign]
    per_round = len(documents) // ROUNDS
    rounds = []
    try:
        for number in range(ROUNDS):
            batch = documents[number * per_round : (number + 1) * per_round]
            order = ("app", "direct") if number % 2 == 0 else ("direct", "app")
            row: dict[str, Any] = {"documents": len(batch), "first": order[0]}
            index_before = app_index.seconds
            for path in order:
                wall, cpu = time.perf_counter(), time.process_time()
                if path == "app":
                    chunks = ingest_app(batch)
                else:
                    chunks = ingest_direct(
                        direct_embedder, direct, [prepared[d.number] for d in batch], direct_embed, direct_add
                    )
                row[path] = {
                    "chunks": chunks,
                    "seconds": time.perf_counter() - wall,
                    "cpu": time.process_time() - cpu,
                }
            row["app_index"] = app_index.seconds - index_before
            rounds.append(row)
            if (number + 1) % (ROUNDS // ROUND_BLOCKS) == 0:
                block = rounds[-(ROUNDS // ROUND_BLOCKS) :]
                app_s = sum(r["app"]["seconds"] for r in block)
                direct_s = sum(r["direct"]["seconds"] for r in block)
                progress(
                    f"ingest rounds {number + 2 - len(block)}-{number + 1}/{ROUNDS}: "
                    f"{sum(r['app']['chunks'] for r in block)} chunks, app {app_s:.1f} s, "
                    f"direct {direct_s:.1f} s, ratio {direct_s / app_s:.2f}"
                )
    finally:
        index.upsert, index.delete_leftovers = original_upsert, original_leftovers
        del embedder.embed
    check = compare_collections(index.collection(embedder.model_name), direct)
    return {
        "documents": len(documents),
        "warmup_documents": len(warm),
        "chunks": len(inputs),
        "tokens_mean": float(np.mean(tokens)),
        "tokens_median": float(np.median(tokens)),
        "tokens_max": int(max(tokens)),
        "chars_per_document": float(np.mean([len(d.text) for d in documents])),
        "rounds": rounds,
        "app_embed": app_embed.seconds,
        "app_embed_calls": app_embed.calls,
        "app_index": app_index.seconds,
        "app_index_calls": app_index.calls,
        "direct_embed": direct_embed.seconds,
        "direct_embed_calls": direct_embed.calls,
        "direct_add": direct_add.seconds,
        "direct_add_calls": direct_add.calls,
        "check": check,
        "threads": embedder.runtime.threads,
    }


# --- child: query ---------------------------------------------------------------------------


def synthetic(size: int, document_ids: Sequence[int], titles: Sequence[str]) -> dict[str, Any]:
    """Clustered unit vectors, short texts and app-like metadata; a prefix of the largest set
    is the smaller set."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    centroids = rng.standard_normal((CENTROIDS, DIMENSION)).astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    vectors = centroids[rng.integers(0, CENTROIDS, size)]
    vectors = vectors + SPREAD * rng.standard_normal((size, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = random.Random(SEED)
    headings = [words.choice(HEADINGS) for _ in range(CHUNKS_PER_DOCUMENT)]
    ids, texts, metadatas = [], [], []
    for i in range(size):
        document, chunk = divmod(i, CHUNKS_PER_DOCUMENT)
        ids.append(f"doc{document_ids[document]}-{chunk}")
        texts.append(_sentence(words, words.choice(TOPICS)))
        metadatas.append(
            {
                "document_id": document_ids[document],
                "chunk_index": chunk,
                "heading": f"{titles[document]} > {headings[chunk]}",
                "title": titles[document],
                "category": CATEGORIES[document % len(CATEGORIES)],
                "collection": "synthetic",
            }
        )
    return {"vectors": vectors, "ids": ids, "texts": texts, "metadatas": metadatas}


def synthetic_documents(count: int, model_name: str) -> tuple[list[int], list[str]]:
    """Document rows for the synthetic chunks, so that services.search finds their titles."""
    from apps.knowledge.choices import DocumentStatus
    from apps.knowledge.models import Document

    rows = [
        Document(
            title=f"Synthetic note {n:05d}",
            category=CATEGORIES[n % len(CATEGORIES)],
            collection="synthetic",
            status=DocumentStatus.INDEXED,
            chunk_count=CHUNKS_PER_DOCUMENT,
            embedding_model=model_name,
        )
        for n in range(count)
    ]
    created = Document.objects.bulk_create(rows, batch_size=2000)
    return [int(d.pk) for d in created], [d.title for d in created]


def fill(model_name: str, data: dict[str, Any], size: int) -> tuple[float, int]:
    """Add the first ``size`` chunks to the model's collection of the current CHROMA_PATH."""
    from apps.knowledge import index

    target = index.collection(model_name)
    batch = index.client().get_max_batch_size()
    start_time = time.perf_counter()
    for start in range(0, size, batch):
        end = min(size, start + batch)
        target.add(
            ids=data["ids"][start:end],
            embeddings=data["vectors"][start:end],
            documents=data["texts"][start:end],
            metadatas=data["metadatas"][start:end],
        )
    seconds = time.perf_counter() - start_time
    if target.count() != size:
        raise RuntimeError(f"the collection holds {target.count()} chunks, expected {size}")
    return seconds, batch


def measure_query(tmp: Path) -> dict[str, Any]:
    import numpy as np
    from django.conf import settings
    from django.core.cache import cache

    from apps.knowledge import index, services
    from apps.knowledge.embeddings import get_embedder

    embedder = get_embedder()
    model_name = embedder.model_name
    ingest_store = settings.CHROMA_PATH
    largest = max(SIZES)
    started = time.perf_counter()
    document_ids, titles = synthetic_documents(-(-largest // CHUNKS_PER_DOCUMENT), model_name)
    data = synthetic(largest, document_ids, titles)
    generate_seconds = time.perf_counter() - started
    progress(f"generated {largest} synthetic chunks and {len(document_ids)} document rows in {generate_seconds:.1f} s")

    stores: dict[int, Path] = {}
    fills: dict[str, Any] = {}
    for size in SIZES:
        stores[size] = tmp / f"chroma-{size}"
        settings.CHROMA_PATH = stores[size]
        seconds, batch = fill(model_name, data, size)
        fills[str(size)] = {"seconds": seconds, "batch": batch}
        progress(f"filled {size} chunks in {seconds:.1f} s (batches of {batch})")

    questions = [q["question"] for q in json.loads(QUESTIONS_FILE.read_text(encoding="utf-8"))]
    question_vectors = np.asarray(embedder.embed(questions), dtype=np.float32)
    rng = np.random.default_rng(SEED + 1)
    perturbed = data["vectors"][rng.integers(0, min(SIZES), QUERIES + QUERY_WARMUP - QUESTION_QUERIES)]
    perturbed = perturbed + 0.5 * SPREAD * rng.standard_normal(perturbed.shape).astype(np.float32)
    perturbed /= np.linalg.norm(perturbed, axis=1, keepdims=True)
    queries = [question_vectors[i % len(questions)] for i in range(QUESTION_QUERIES)] + list(perturbed)
    order = rng.permutation(len(queries))
    vectors: list[Sequence[float]] = [[float(x) for x in queries[i]] for i in order]

    # Variants: (size, kind); kind "app" = index.query, "filter" = index.query with a category,
    # "raw" = collection.query on a collection object fetched once (what index.query wraps).
    raw = {}
    for size in SIZES:
        settings.CHROMA_PATH = stores[size]
        raw[size] = index.collection(model_name)
    variants = [(size, kind) for size in SIZES for kind in ("app", "filter", "raw")]
    timings: dict[str, list[float]] = {f"{size}/{kind}": [] for size, kind in variants}
    hits: dict[str, list[int]] = {f"{size}/{kind}": [] for size, kind in variants}
    wrong_category = 0
    progress(f"query latency: {len(vectors)} queries x {len(variants)} variants, interleaved")
    for number, vector in enumerate(vectors):
        category = CATEGORIES[number % len(CATEGORIES)]
        for shift in range(len(variants)):
            size, kind = variants[(number + shift) % len(variants)]
            settings.CHROMA_PATH = stores[size]
            start = time.perf_counter()
            if kind == "raw":
                result = raw[size].query(
                    query_embeddings=[vector], n_results=LIMIT, include=["documents", "metadatas", "distances"]
                )
                found = len(result["ids"][0])
            else:
                filters = {"category": category} if kind == "filter" else {}
                answer = index.query(model_name, vector, limit=LIMIT, filters=filters)
                found = len(answer)
                if kind == "filter":
                    wrong_category += sum(1 for h in answer if h.metadata.get("category") != category)
            elapsed = (time.perf_counter() - start) * 1000
            if number >= QUERY_WARMUP:
                timings[f"{size}/{kind}"].append(elapsed)
                hits[f"{size}/{kind}"].append(found)

    # End to end at the smallest size: embedding + Chroma + title lookup, the cache cleared
    # before every call (outside the timing) so that none is a cache hit.
    settings.CHROMA_PATH = stores[min(SIZES)]
    search_ms: list[float] = []
    embed_ms: list[float] = []
    passages: list[int] = []
    for number in range(SEARCH_CALLS + QUERY_WARMUP):
        question = questions[number % len(questions)]
        cache.clear()
        steps = ("search", "embed") if number % 2 == 0 else ("embed", "search")
        for step in steps:
            start = time.perf_counter()
            if step == "search":
                found = len(services.search(question, limit=LIMIT))
            else:
                embedder.embed([question])
            elapsed = (time.perf_counter() - start) * 1000
            if number >= QUERY_WARMUP:
                (search_ms if step == "search" else embed_ms).append(elapsed)
                if step == "search":
                    passages.append(found)
    settings.CHROMA_PATH = ingest_store
    return {
        "generate_seconds": generate_seconds,
        "fills": fills,
        "timings": timings,
        "hits": {k: statistics.mean(v) for k, v in hits.items()},
        "wrong_category": wrong_category,
        "questions": len(questions),
        "question_queries": QUESTION_QUERIES,
        "queries": len(vectors) - QUERY_WARMUP,
        "search_ms": search_ms,
        "embed_ms": embed_ms,
        "passages": statistics.mean(passages),
    }


def child_measure(tmp: Path, result_path: Path) -> int:
    import django

    django.setup()
    started = time.perf_counter()
    ingest = measure_ingest()
    progress(f"ingest done in {time.perf_counter() - started:.0f} s")
    query = measure_query(tmp)
    result_path.write_text(json.dumps({"ingest": ingest, "query": query}), encoding="utf-8")
    return 0


# --- the parent -----------------------------------------------------------------------------


def child_environment(tmp: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        CHROMA_PATH=str(tmp / "chroma"),
        CHROMA_URL="",
        MEDIA_ROOT=str(tmp / "media"),
        EMBEDDING_BACKEND="local",
        REDIS_URL="",  # the local-memory cache: services.search's cache is cleared between calls
        JSON_LOGS="true",  # as in production; the child's stdout goes nowhere
        LOG_LEVEL="INFO",
    )
    return env


def migrate(env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchmarkError(f"manage.py migrate failed ({proc.returncode}):\n{proc.stderr.decode()[-2000:]}")
    return time.perf_counter() - start


def measure(env: dict[str, str], tmp: Path) -> dict[str, Any]:
    """Run the child, echoing its progress lines; its result comes back as JSON."""
    result = tmp / "result.json"
    tail: deque[str] = deque(maxlen=60)
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.knowledge", "--measure", str(tmp), str(result)],
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(CHILD_TIMEOUT, proc.kill)  # a child that hangs silently
    watchdog.start()
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail.append(line.rstrip("\n"))
            if line.startswith(f"[{NAME}]"):
                print(line, end="", file=sys.stderr, flush=True)
        proc.wait(timeout=CHILD_TIMEOUT)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0 or not result.exists():
        raise BenchmarkError(f"the measuring process failed ({proc.returncode}):\n" + "\n".join(tail))
    data: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    return data


def _versions() -> str:
    names = ("chromadb", "onnxruntime", "tokenizers", "Django", "numpy")
    return ", ".join(f"{n} {importlib.metadata.version(n)}" for n in names)


def ingest_tables(ingest: dict[str, Any]) -> list[Table | Text]:
    rounds = ingest["rounds"]

    def total(path: str, field: str) -> float:
        return float(sum(r[path][field] for r in rounds))

    app_chunks, app_s, app_cpu = total("app", "chunks"), total("app", "seconds"), total("app", "cpu")
    direct_chunks, direct_s, direct_cpu = total("direct", "chunks"), total("direct", "seconds"), total("direct", "cpu")
    app_rate, direct_rate = app_chunks / app_s, direct_chunks / direct_s
    ratio = app_rate / direct_rate
    met = ratio >= TARGET_RATIO
    documents = sum(r["documents"] for r in rounds)
    embed_rate = direct_chunks / ingest["direct_embed"]
    throughput = Table(
        f"Ingest throughput: {ROUNDS} interleaved rounds of {documents // ROUNDS} documents (verdict on the totals)",
        ["path", "documents", "chunks", "seconds", "chunks/s", "CPU s", "vs direct", "target", "result"],
        [
            [
                "app: create_from_file each + services.ingest_many",
                f"{documents}",
                f"{app_chunks:.0f}",
                f"{app_s:.1f}",
                f"{app_rate:.1f}",
                f"{app_cpu:.1f}",
                f"{ratio:.3f}x",
                f">= {TARGET_RATIO}x",
                "target met" if met else "target MISSED",
            ],
            [
                f"direct: LocalEmbedder.embed ({DIRECT_BATCH} a call) + collection.add",
                f"{documents}",
                f"{direct_chunks:.0f}",
                f"{direct_s:.1f}",
                f"{direct_rate:.1f}",
                f"{direct_cpu:.1f}",
                "1.000x",
                "-",
                "-",
            ],
            [
                "  embedder alone (the direct path's embed calls, dynamic padding)",
                "-",
                f"{direct_chunks:.0f}",
                f"{ingest['direct_embed']:.1f}",
                f"{embed_rate:.1f} sentences/s",
                "-",
                "-",
                "-",
                "-",
            ],
        ],
        align="lrrrrrrrl",
    )
    app_rest = app_s - ingest["app_embed"] - ingest["app_index"]
    direct_rest = direct_s - ingest["direct_embed"] - ingest["direct_add"]

    def share(seconds: float, whole: float) -> str:
        return f"{seconds:.1f} ({100 * seconds / whole:.0f}%)"

    breakdown = Table(
        "Where the ingest time goes (wall seconds summed over the rounds; calls timed in place)",
        ["part", "app", "calls", "direct", "calls"],
        [
            [
                "embedding: LocalEmbedder.embed",
                share(ingest["app_embed"], app_s),
                str(ingest["app_embed_calls"]),
                share(ingest["direct_embed"], direct_s),
                str(ingest["direct_embed_calls"]),
            ],
            [
                "Chroma: index.upsert + delete_leftovers / collection.add",
                share(ingest["app_index"], app_s),
                str(ingest["app_index_calls"]),
                share(ingest["direct_add"], direct_s),
                str(ingest["direct_add_calls"]),
            ],
            [
                "the rest: file storage, parse, chunk, SQL, logging / list slicing",
                share(app_rest, app_s),
                "-",
                share(direct_rest, direct_s),
                "-",
            ],
            ["total", f"{app_s:.1f}", "-", f"{direct_s:.1f}", "-"],
        ],
        align="lrrrr",
    )
    per_round = [r["direct"]["seconds"] / r["app"]["seconds"] for r in rounds]
    size = len(rounds) // ROUND_BLOCKS
    blocks = [rounds[i : i + size] for i in range(0, len(rounds), size)]

    def block_total(block: list[dict[str, Any]], path: str, field: str = "seconds") -> float:
        return float(sum(r[path][field] for r in block))

    round_table = Table(
        f"Ingest by block of {size} rounds, in order (each round: the same documents through both paths, "
        "the first path alternating)",
        ["rounds", "documents", "chunks", "app s", "direct s", "ratio", "round ratios min-max", "app Chroma s"],
        [
            [
                f"{number * size + 1}-{number * size + len(block)}",
                str(sum(r["documents"] for r in block)),
                f"{block_total(block, 'app', 'chunks'):.0f}",
                f"{block_total(block, 'app'):.2f}",
                f"{block_total(block, 'direct'):.2f}",
                f"{block_total(block, 'direct') / block_total(block, 'app'):.2f}",
                f"{min(r['direct']['seconds'] / r['app']['seconds'] for r in block):.2f}-"
                f"{max(r['direct']['seconds'] / r['app']['seconds'] for r in block):.2f}",
                f"{sum(r['app_index'] for r in block):.2f}",
            ]
            for number, block in enumerate(blocks)
        ],
        align="rrrrrrrr",
    )
    check = ingest["check"]
    same = (
        check["same_keys"]
        and check["texts_differ"] == 0
        and check["app_chunks"] == check["direct_chunks"]
        and check["min_cosine"] > 0.999
    )
    notes = Text(
        textwrap.fill(
            f"Ingest ratio app/direct = {ratio:.3f}x ({'target met' if met else 'target MISSED'}: >= {TARGET_RATIO}x). "
            f"Per-round ratios: min {min(per_round):.2f}, median {statistics.median(per_round):.2f}, "
            f"max {max(per_round):.2f}; on CPU time (all threads of the process) {direct_cpu / app_cpu:.2f}x. "
            f"Per document the app makes {ingest['app_embed_calls'] // documents} embed "
            f"call(s) of {app_chunks / documents:.1f} chunks on average; the direct path "
            f"{ingest['direct_embed_calls']} calls of up to {DIRECT_BATCH}. Same chunks in both collections: "
            f"{'yes' if same else 'NO'} ({check['app_chunks']} vs {check['direct_chunks']} chunks incl. warm-up, "
            f"{check['texts_differ']} texts differ, vectors: min cosine {check['min_cosine']:.6f}, "
            f"max |delta| {check['max_abs_delta']:.2e}).",
            width=110,
        )
    )
    return [throughput, breakdown, round_table, notes]


def query_tables(query: dict[str, Any]) -> list[Table | Text]:
    small, large = min(SIZES), max(SIZES)
    fills = Table(
        "Synthetic stores (report only)",
        ["store", "chunks", "add batch", "fill seconds", "chunks/s"],
        [
            [
                f"{size:,} chunks",
                f"{size}",
                f"{query['fills'][str(size)]['batch']}",
                f"{query['fills'][str(size)]['seconds']:.1f}",
                f"{size / query['fills'][str(size)]['seconds']:.0f}",
            ]
            for size in SIZES
        ],
        align="lrrrr",
    )
    labels = {
        "app": "(a) index.query, no filter",
        "filter": f"(b) index.query, where category (1 of {len(CATEGORIES)})",
        "raw": "(ref) collection.query on a held collection, no filter",
    }
    rows = []
    for kind, label in labels.items():
        s, big = query["timings"][f"{small}/{kind}"], query["timings"][f"{large}/{kind}"]
        rows.append(
            [
                label,
                f"{statistics.median(s):.2f}",
                f"{p95(s):.2f}",
                f"{statistics.median(big):.2f}",
                f"{p95(big):.2f}",
                f"{statistics.median(big) / statistics.median(s):.2f}x",
                f"{p95(big) / p95(s):.2f}x",
            ]
        )
    a, b = f"{small // 1000}k", f"{large // 1000}k"
    latency = Table(
        f"Query latency, limit={LIMIT}: {query['queries']} queries per variant, sizes and variants interleaved (ms)",
        ["variant", *(f"{p} {k}" for k in (a, b) for p in ("p50", "p95")), f"p50 {a}->{b}", f"p95 {a}->{b}"],
        rows,
        align="lrrrrrr",
    )
    search = Table(
        f"End to end at {small:,} chunks: services.search(), cache cleared before each call (ms)",
        ["what", "calls", "p50", "p95", "mean"],
        [
            [
                "services.search (embed + index_version + index.query + titles)",
                str(len(query["search_ms"])),
                f"{statistics.median(query['search_ms']):.2f}",
                f"{p95(query['search_ms']):.2f}",
                f"{statistics.mean(query['search_ms']):.2f}",
            ],
            [
                "  of which embedding one question: LocalEmbedder.embed([q])",
                str(len(query["embed_ms"])),
                f"{statistics.median(query['embed_ms']):.2f}",
                f"{p95(query['embed_ms']):.2f}",
                f"{statistics.mean(query['embed_ms']):.2f}",
            ],
        ],
        align="lrrrr",
    )
    app_overhead = statistics.median(query["timings"][f"{small}/app"]) - statistics.median(
        query["timings"][f"{small}/raw"]
    )
    notes = Text(
        textwrap.fill(
            f"Query vectors: {query['question_queries']} embeddings of the {query['questions']} questions of "
            f"apps/knowledge/tests/data/questions.json (cycled) and {query['queries'] - query['question_queries']} "
            f"stored vectors perturbed by noise, shuffled, after {QUERY_WARMUP} untimed warm-up queries. Hits "
            f"returned on average: "
            + ", ".join(f"{k} {v:.1f}" for k, v in query["hits"].items())
            + f"; filtered hits of another category: {query['wrong_category']}. index.query costs "
            f"{app_overhead:.2f} ms more than collection.query at the median ({small:,}): it calls "
            f"get_or_create_collection on every query. services.search returned {query['passages']:.1f} passages "
            f"on average.",
            width=110,
        )
    )
    return [fills, latency, search, notes]


def summary_rows(ingest: dict[str, Any], query: dict[str, Any]) -> list[SummaryRow]:
    rounds = ingest["rounds"]
    app_rate = sum(r["app"]["chunks"] for r in rounds) / sum(r["app"]["seconds"] for r in rounds)
    direct_rate = sum(r["direct"]["chunks"] for r in rounds) / sum(r["direct"]["seconds"] for r in rounds)
    small, large = min(SIZES), max(SIZES)
    rows = [
        SummaryRow(
            "Knowledge bulk ingest chunks/s vs direct Chroma (embed + add)",
            f"{app_rate:.1f} chunks/s",
            f"{direct_rate:.1f} chunks/s",
            f"{app_rate / direct_rate:.3f}",
            f">= {TARGET_RATIO}",
            app_rate / direct_rate >= TARGET_RATIO,
        )
    ]
    for kind, label in (("app", "no filter"), ("filter", "category filter")):
        s, big = query["timings"][f"{small}/{kind}"], query["timings"][f"{large}/{kind}"]
        rows.append(
            SummaryRow(
                f"Knowledge query p50 ({label}), {small // 1000}k -> {large // 1000}k chunks",
                f"{statistics.median(big):.2f} ms at {large // 1000}k",
                f"{statistics.median(s):.2f} ms at {small // 1000}k",
                f"{statistics.median(big) / statistics.median(s):.2f}",
            )
        )
    return rows


def run() -> Report:
    started = time.monotonic()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="cc-bench-knowledge-") as name:
        tmp = Path(name)
        env = child_environment(tmp)
        progress(f"migrating a scratch SQLite database in {tmp}")
        migrate_seconds = migrate(env)
        progress(f"migrated in {migrate_seconds:.1f} s; measuring in a child process")
        data = measure(env, tmp)
    load_after = os.getloadavg()
    ingest, query = data["ingest"], data["query"]
    elapsed = time.monotonic() - started
    setup = Text(
        textwrap.fill(
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Python {platform.python_version()}, {_versions()}, "
            f"{os.cpu_count()} CPUs (ONNX intra-op threads: {ingest['threads']}), load average "
            f"{load_before[0]:.2f} before and {load_after[0]:.2f} after. One child process with a scratch SQLite "
            f"database (WAL, migrated by manage.py migrate in a subprocess in {migrate_seconds:.0f} s), fresh "
            f"embedded Chroma stores (CHROMA_PATH) and MEDIA_ROOT in a temporary directory, removed afterwards; "
            f"the local-memory cache; JSON logs at INFO to a discarded stdout. Corpus: {ingest['documents']} "
            f"generated Markdown documents (seed {SEED}; a title, an introduction and 3-6 paragraphs mostly under "
            f"## headings, {ingest['chars_per_document']:.0f} characters on average) giving {ingest['chunks']} "
            f"chunks of {ingest['tokens_mean']:.0f} word pieces on average (median {ingest['tokens_median']:.0f}, "
            f"max {ingest['tokens_max']}, heading included). {ingest['warmup_documents']} warm-up documents "
            f"through each path first, not counted. Total run time {elapsed:.0f} s.",
            width=110,
        )
    )
    progress(f"done in {elapsed:.0f} s")
    return Report(NAME, TITLE, [setup, *ingest_tables(ingest), *query_tables(query)], summary_rows(ingest, query))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        sys.exit(child_measure(Path(sys.argv[2]), Path(sys.argv[3])))
    sys.exit("usage: python -m benchmarks knowledge  (this module's own entry point is for its child)")
