"""Health checks behind ``/health`` and ``manage.py doctor``.

A check returns ``CheckResult``; a *critical* check that fails makes ``/health`` answer
503 (only the database is critical: a down cache or a stale backup is ``degraded``, still
200, so the load balancer keeps the replica). Apps register their own checks with
``register``; ``doctor_only=True`` keeps a check out of ``/health`` (slow, or about the
deployment rather than this replica: Beat, disk space, settings).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class CheckResult:
    status: str
    detail: str


@dataclass(frozen=True)
class Check:
    name: str
    func: Callable[[], CheckResult]
    critical: bool
    doctor_only: bool = False
    # Reads the database: skipped once the database check failed, so that a hung server costs
    # /health one connect timeout, not one per check.
    needs_database: bool = False


_REGISTRY: dict[str, Check] = {}


def register(
    name: str, *, critical: bool = False, doctor_only: bool = False, needs_database: bool = False
) -> Callable[[Callable[[], CheckResult]], Callable[[], CheckResult]]:
    def decorator(func: Callable[[], CheckResult]) -> Callable[[], CheckResult]:
        _REGISTRY[name] = Check(
            name=name, func=func, critical=critical, doctor_only=doctor_only, needs_database=needs_database
        )
        return func

    return decorator


def registered_checks(*, include_doctor_only: bool = True) -> list[Check]:
    return [check for check in _REGISTRY.values() if include_doctor_only or not check.doctor_only]


def _timed(func: Callable[[], CheckResult]) -> CheckResult:
    start = time.perf_counter()
    try:
        result = func()
    except Exception as exc:  # a check that raises is a failed check, with the reason
        return CheckResult(FAIL, f"{type(exc).__name__}: {exc}"[:300])
    elapsed_ms = (time.perf_counter() - start) * 1000
    return CheckResult(result.status, f"{result.detail} ({elapsed_ms:.0f} ms)")


def run_checks() -> tuple[str, dict[str, dict[str, str]]]:
    """Run every registered check: the overall status and each check's result."""
    results: dict[str, dict[str, str]] = {}
    overall = OK
    database_down = False
    for check in registered_checks(include_doctor_only=False):
        if check.needs_database and database_down:
            result = CheckResult(WARN, "skipped: the database is unavailable")
        else:
            result = _timed(check.func)
        if check.name == "database" and result.status == FAIL:
            database_down = True
        results[check.name] = {"status": result.status, "detail": result.detail}
        if result.status == FAIL and check.critical:
            overall = FAIL
        elif result.status != OK and overall == OK:
            overall = "degraded"
    return overall, results


@register("database", critical=True)
def check_database() -> CheckResult:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return CheckResult(OK, f"{connection.vendor} reachable")


@register("cache")
def check_cache() -> CheckResult:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    value = cache.get(key)
    cache.delete(key)
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    if value != "1":
        return CheckResult(FAIL, f"{backend}: value written was not read back")
    return CheckResult(OK, f"{backend} read/write")


@register("broker")
def check_broker() -> CheckResult:
    from commandcenter.celery import app

    url = app.conf.broker_url or ""
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        transport = conn.transport_cls if isinstance(conn.transport_cls, str) else url.split(":", 1)[0]
    return CheckResult(OK, f"{transport} broker reachable")
