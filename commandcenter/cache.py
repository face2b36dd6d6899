"""Cache backends that count every look-up and never take the application down.

Each ``get`` is counted as a hit, a miss or an error in ``commandcenter_cache_operations_total``
and in django-prometheus' ``django_cache_*`` counters. A cache that cannot be reached is
bypassed: reads return the default, writes are dropped, and the error is counted and logged
(rate-limited to one line per minute per process), so an outage of Redis degrades speed, not
availability.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from django.core.cache.backends import locmem, redis
from django_prometheus.cache.metrics import (
    django_cache_get_fail_total,
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)

from commandcenter.metrics import track_cache_operation

log = structlog.get_logger(__name__)
_MISSING = object()
_LOG_EVERY = 60.0
_last_logged = 0.0


def _record_get(backend: str, found: bool) -> None:
    django_cache_get_total.labels(backend=backend).inc()
    if found:
        django_cache_hits_total.labels(backend=backend).inc()
    else:
        django_cache_misses_total.labels(backend=backend).inc()
    track_cache_operation("get", "hit" if found else "miss")


def _record_error(backend: str, operation: str, exc: Exception) -> None:
    global _last_logged
    if operation == "get":
        django_cache_get_total.labels(backend=backend).inc()
        django_cache_get_fail_total.labels(backend=backend).inc()
    track_cache_operation(operation, "error")
    now = time.monotonic()
    if now - _last_logged > _LOG_EVERY:
        _last_logged = now
        log.warning("cache_unavailable", backend=backend, operation=operation, error=f"{type(exc).__name__}: {exc}")


class RedisCache(redis.RedisCache):
    label = "redis"

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            value = super().get(key, _MISSING, version=version)
        except Exception as exc:
            _record_error(self.label, "get", exc)
            return default
        _record_get(self.label, value is not _MISSING)
        return default if value is _MISSING else value

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        try:
            found = super().get_many(keys, version=version)
        except Exception as exc:
            _record_error(self.label, "get", exc)
            return {}
        keys = list(keys)
        for key in keys:
            _record_get(self.label, key in found)
        return found

    def _guard(self, operation: str, func: Any, *args: Any, default: Any = None, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            _record_error(self.label, operation, exc)
            return default

    def set(self, *args: Any, **kwargs: Any) -> None:
        self._guard("set", super().set, *args, **kwargs)

    def add(self, *args: Any, **kwargs: Any) -> bool:
        return bool(self._guard("set", super().add, *args, default=False, **kwargs))

    def set_many(self, *args: Any, **kwargs: Any) -> list[Any]:
        return list(self._guard("set", super().set_many, *args, default=[], **kwargs))

    def touch(self, *args: Any, **kwargs: Any) -> bool:
        return bool(self._guard("set", super().touch, *args, default=False, **kwargs))

    def delete(self, *args: Any, **kwargs: Any) -> bool:
        return bool(self._guard("delete", super().delete, *args, default=False, **kwargs))

    def delete_many(self, *args: Any, **kwargs: Any) -> None:
        self._guard("delete", super().delete_many, *args, **kwargs)

    def incr(self, *args: Any, **kwargs: Any) -> int:
        # A missing key still raises ValueError, as Django's contract says.
        try:
            return super().incr(*args, **kwargs)
        except ValueError:
            raise
        except Exception as exc:
            _record_error(self.label, "set", exc)
            raise ValueError("cache unavailable") from exc


class LocMemCache(locmem.LocMemCache):
    label = "locmem"

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        value = super().get(key, _MISSING, version=version)
        _record_get(self.label, value is not _MISSING)
        return default if value is _MISSING else value
