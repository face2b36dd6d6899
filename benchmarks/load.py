"""A small closed-loop HTTP load generator (stdlib only) that interleaves endpoints in rounds.

Every client thread keeps one ``http.client`` connection and sends its next request as soon
as the previous answer is read (closed loop). A round runs each endpoint in turn - a, b, c -
with all threads on it, so machine noise (other processes, CPU boost, the cache) falls on
every endpoint alike. Throughput per endpoint is its requests divided by the wall time of its
own phases.
"""

from __future__ import annotations

import http.client
import random
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from benchmarks.errors import BenchmarkError


@dataclass(frozen=True)
class Endpoint:
    label: str  # "a", "b", ...
    name: str
    path: str


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)  # seconds
    elapsed: float = 0.0  # wall time of this endpoint's phases
    response_bytes: int = 0
    round_throughputs: list[float] = field(default_factory=list)  # requests/s of each measured phase

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1]


@dataclass(frozen=True)
class LoadResult:
    samples: dict[str, Samples]  # by endpoint label
    rounds: int
    per_round: int
    warmup: int
    concurrency: int
    stopped_early: bool


class Client:
    def __init__(self, host: str, port: int, headers: dict[str, str], concurrency: int) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise BenchmarkError("The load client only targets the local machine.")
        self.headers = headers
        self.connections = [http.client.HTTPConnection(host, port, timeout=30) for _ in range(concurrency)]

    def close(self) -> None:
        for conn in self.connections:
            conn.close()

    def _burst(self, slot: int, path: str, count: int) -> tuple[list[float], int, list[str]]:
        conn = self.connections[slot]
        latencies: list[float] = []
        size = 0
        errors: list[str] = []
        for _ in range(count):
            start = time.perf_counter()
            try:
                # http.client reopens the connection by itself when the server closed it
                # (gunicorn's sync workers answer "Connection: close").
                conn.request("GET", path, headers=self.headers)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                errors.append(f"{path}: {exc!r}")
                continue
            latencies.append(time.perf_counter() - start)
            if response.status != 200:
                errors.append(f"{path}: HTTP {response.status} {body[:200]!r}")
            size += len(body)
        return latencies, size, errors

    def phase(self, pool: ThreadPoolExecutor, path: str, requests: int, samples: Samples | None) -> list[str]:
        """``requests`` requests to ``path`` spread over every connection; returns the errors."""
        slots = len(self.connections)
        counts = [requests // slots + (1 if i < requests % slots else 0) for i in range(slots)]
        start = time.perf_counter()
        futures = [pool.submit(self._burst, i, path, n) for i, n in enumerate(counts) if n]
        results = [f.result() for f in futures]
        elapsed = time.perf_counter() - start
        errors = [e for _, _, errs in results for e in errs]
        if samples is not None:
            samples.elapsed += elapsed
            samples.round_throughputs.append(sum(len(latencies) for latencies, _, _ in results) / elapsed)
            for latencies, size, _ in results:
                samples.latencies.extend(latencies)
                samples.response_bytes += size
        return errors


def round_ratios(numerator: Samples, denominator: Samples) -> list[float]:
    """Throughput ratio of two endpoints in each round (their phases ran back to back)."""
    return [n / d for n, d in zip(numerator.round_throughputs, denominator.round_throughputs, strict=True) if d]


def run_load(
    host: str,
    port: int,
    headers: dict[str, str],
    endpoints: Sequence[Endpoint],
    *,
    concurrency: int,
    warmup: int,
    per_round: int,
    rounds: int,
    time_budget: float,
) -> LoadResult:
    """Warm every endpoint up, then run ``rounds`` rounds (fewer if ``time_budget`` seconds run out)."""
    client = Client(host, port, headers, concurrency)
    samples = {e.label: Samples() for e in endpoints}
    errors: list[str] = []
    done = 0
    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-client") as pool:
            for endpoint in endpoints:
                errors += client.phase(pool, endpoint.path, warmup, None)
            started = time.monotonic()
            while done < rounds and not errors:
                for endpoint in endpoints:
                    errors += client.phase(pool, endpoint.path, per_round, samples[endpoint.label])
                done += 1
                if time.monotonic() - started > time_budget:
                    break
    finally:
        client.close()
    if errors:
        shown = "\n  ".join(errors[:5])
        raise BenchmarkError(f"{len(errors)} request(s) failed during the load run:\n  {shown}")
    return LoadResult(samples, done, per_round, warmup, concurrency, stopped_early=done < rounds)


# --- a timed mix of requests (the load test) -----------------------------------------------


@dataclass(frozen=True)
class Request:
    kind: str  # what the report groups by: "list", "detail", ...
    method: str
    path: str
    body: bytes | None = None


@dataclass
class MixResult:
    latencies: dict[str, list[float]]  # seconds, by request kind, of the answered requests
    errors: dict[str, int]  # by request kind: exceptions and non-200 answers
    error_samples: list[str]
    seconds: float  # wall time from the first request to the last answer
    clients: int
    client_cpu: float  # CPU seconds used by this process (the load generator) meanwhile

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values()) + sum(self.errors.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def all_latencies(self) -> list[float]:
        return [x for values in self.latencies.values() for x in values]


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0 < p < 100, inclusive method, interpolated)."""
    if len(values) < 2:
        return values[0] if values else 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def run_mix(
    host: str,
    port: int,
    headers: dict[str, str],
    next_request: Callable[[random.Random], Request],
    *,
    clients: int,
    seconds: float,
    seed: int,
) -> MixResult:
    """``clients`` closed-loop clients, each sending ``next_request(rng)`` until ``seconds`` have
    passed (the requests in flight then complete and count). Every answer other than 200 is an error."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise BenchmarkError("The load client only targets the local machine.")
    start_line = threading.Barrier(clients + 1)
    deadline = [0.0]
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    samples: list[str] = []

    def client(slot: int) -> None:
        rng = random.Random(seed * 1000 + slot)
        conn = http.client.HTTPConnection(host, port, timeout=60)
        mine: dict[str, list[float]] = {}
        failed: dict[str, int] = {}
        messages: list[str] = []
        start_line.wait()
        try:
            while time.perf_counter() < deadline[0]:
                request = next_request(rng)
                send_headers = dict(headers)
                if request.body is not None:
                    send_headers["Content-Type"] = "application/json"
                start = time.perf_counter()
                try:
                    conn.request(request.method, request.path, body=request.body, headers=send_headers)
                    response = conn.getresponse()
                    body = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    failed[request.kind] = failed.get(request.kind, 0) + 1
                    messages.append(f"{request.method} {request.path}: {exc!r}")
                    continue
                elapsed = time.perf_counter() - start
                if response.status != 200:
                    failed[request.kind] = failed.get(request.kind, 0) + 1
                    messages.append(f"{request.method} {request.path}: HTTP {response.status} {body[:200]!r}")
                else:
                    mine.setdefault(request.kind, []).append(elapsed)
        finally:
            conn.close()
            with lock:
                for kind, values in mine.items():
                    latencies.setdefault(kind, []).extend(values)
                for kind, count in failed.items():
                    errors[kind] = errors.get(kind, 0) + count
                samples.extend(messages[:3])

    threads = [threading.Thread(target=client, args=(i,), name=f"load-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    cpu_before = time.process_time()
    started = time.perf_counter()
    deadline[0] = started + seconds
    start_line.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return MixResult(latencies, errors, samples, elapsed, clients, time.process_time() - cpu_before)
