"""A small closed-loop HTTP load generator (stdlib only) that interleaves endpoints in rounds.

Every client thread keeps one ``http.client`` connection and sends its next request as soon
as the previous answer is read (closed loop). A round runs each endpoint in turn - a, b, c -
with all threads on it, so machine noise (other processes, CPU boost, the cache) falls on
every endpoint alike. Throughput per endpoint is its requests divided by the wall time of its
own phases.
"""

from __future__ import annotations

import http.client
import statistics
import time
from collections.abc import Sequence
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
