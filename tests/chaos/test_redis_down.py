"""Redis stopped: the cache is bypassed (API reads answer, each failed cache operation is
counted), ``/health`` says degraded with 200, and the cache is used again once Redis is back.
Jobs queued in Redis survive its restart when it keeps an append-only file, as production's
does (deploy/docker-compose.prod.yml), and are lost without persistence: the control that
shows the setting is what keeps them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from apps.jobs.choices import JobState
from apps.jobs.models import Job
from apps.jobs.tasks import ping
from tests.celery_worker import wait_for
from tests.chaos.conftest import StartRedis
from tests.chaos.servers import Site, Worker, api, gunicorn, metric_total, request
from tests.live import app_env, manage

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

CACHE_ERRORS = "commandcenter_cache_operations_total"


def cache_errors(site: Site) -> float:
    scrape = request(site.app.port, "GET", "/metrics")
    assert scrape.status == 200
    return metric_total(scrape.body.decode(), CACHE_ERRORS, result="error")


def test_api_reads_answer_while_redis_is_down_and_health_says_degraded(start_redis: StartRedis, tmp_path: Path):
    redis = start_redis(appendonly=False)
    (tmp_path / "prometheus").mkdir()
    env = app_env(
        tmp_path,
        REDIS_URL=redis.url(0),
        CELERY_BROKER_URL=redis.url(0),
        CHROMA_PATH=str(tmp_path / "chroma"),
        BACKUP_DIR=str(tmp_path / "backups"),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
    )
    manage(env, "migrate", "--noinput")
    manage(env, "ensure_superuser")
    key = manage(env, "create_api_key", "admin").strip()
    with gunicorn(env, tmp_path / "gunicorn.log", key) as site:
        assert api(site.app, "POST", "/api/v1/technologies/", {"title": "Cached or not"}).status == 201
        assert request(site.app.port, "GET", "/health").json()["checks"]["cache"]["status"] == "ok"
        errors_before = cache_errors(site)

        redis.stop()
        for _ in range(4):
            listed = api(site.app, "GET", "/api/v1/technologies/")
            assert listed.status == 200, listed.body[:500]
            assert [t["title"] for t in listed.json()["results"]] == ["Cached or not"]
            assert listed.seconds < 2.0, f"a read took {listed.seconds:.2f} s with the cache down"
        assert cache_errors(site) > errors_before

        health = request(site.app.port, "GET", "/health")
        assert health.status == 200
        body = health.json()
        assert body["status"] == "degraded"
        assert body["checks"]["database"]["status"] == "ok"
        assert body["checks"]["cache"]["status"] == "fail"
        assert body["checks"]["broker"]["status"] == "fail"

        redis.start()  # same port, same folder
        health = request(site.app.port, "GET", "/health")
        assert health.json()["checks"]["cache"]["status"] == "ok"
        assert health.json()["checks"]["broker"]["status"] == "ok"
        errors_after_recovery = cache_errors(site)
        assert api(site.app, "GET", "/api/v1/technologies/").status == 200
        assert cache_errors(site) == errors_after_recovery


def queue_three_jobs(publish_to: Callable[[str, str], None], broker_url: str, queue: str) -> list[str]:
    publish_to(broker_url, queue)
    return [ping.delay().id for _ in range(3)]


def test_queued_jobs_survive_a_redis_restart_with_the_append_only_file(
    start_redis: StartRedis,
    publish_to: Callable[[str, str], None],
    start_worker_on: Callable[..., Worker],
    queue: str,
):
    redis = start_redis(appendonly=True)
    job_ids = queue_three_jobs(publish_to, redis.url(0), queue)
    assert redis.client().llen(queue) == 3

    redis.stop()
    redis.start()
    assert redis.client().llen(queue) == 3

    worker = start_worker_on(redis.url(0))

    def all_done() -> bool:
        return Job.objects.filter(task_id__in=job_ids, state=JobState.SUCCEEDED).count() == len(job_ids)

    wait_for(all_done, 90, "the queued jobs to run", log=worker.log)
    assert Job.objects.filter(task_id__in=job_ids).count() == 3
    assert redis.client().llen(queue) == 0


def test_without_persistence_a_redis_restart_loses_the_queued_jobs(
    start_redis: StartRedis, publish_to: Callable[[str, str], None], queue: str, db: None
):
    redis = start_redis(appendonly=False)
    queue_three_jobs(publish_to, redis.url(0), queue)
    assert redis.client().llen(queue) == 3

    redis.stop()
    redis.start()
    assert redis.client().llen(queue) == 0
