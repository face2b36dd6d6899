from __future__ import annotations

import pytest
from django.core.cache import caches
from django.test import override_settings
from prometheus_client import REGISTRY

from apps.technologies.tests.factories import TechnologyFactory


def count(operation: str, result: str) -> float:
    value = REGISTRY.get_sample_value(
        "commandcenter_cache_operations_total", {"operation": operation, "result": result}
    )
    return value or 0.0


def test_hits_and_misses_are_counted():
    cache = caches["default"]
    hits, misses = count("get", "hit"), count("get", "miss")
    cache.set("metrics-test-key", "v", 10)
    assert cache.get("metrics-test-key") == "v"
    assert cache.get("metrics-test-missing", "fallback") == "fallback"
    assert count("get", "hit") == hits + 1
    assert count("get", "miss") == misses + 1


def test_a_cached_none_is_a_hit():
    cache = caches["default"]
    hits = count("get", "hit")
    cache.set("metrics-test-none", None, 10)
    assert cache.get("metrics-test-none", "default") is None
    assert count("get", "hit") == hits + 1


DOWN = {
    "default": {
        "BACKEND": "commandcenter.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


@override_settings(CACHES=DOWN)
def test_an_unreachable_redis_is_bypassed_and_counted():
    cache = caches["default"]
    errors_get, errors_set = count("get", "error"), count("set", "error")
    cache.set("k", "v", 10)
    assert cache.get("k", "fallback") == "fallback"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.add("k", "v") is False
    assert cache.delete("k") is False
    assert count("get", "error") == errors_get + 2
    assert count("set", "error") == errors_set + 2


@pytest.mark.django_db
@override_settings(CACHES=DOWN)
def test_the_api_answers_while_the_cache_is_down(api):
    TechnologyFactory.create()
    response = api.get("/api/v1/technologies/")  # throttling reads and writes the cache
    assert response.status_code == 200
    assert response.json()["count"] == 1
