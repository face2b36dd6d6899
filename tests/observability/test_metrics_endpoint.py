from __future__ import annotations

import base64

import pytest
from django.test import Client
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from apps.technologies.tests.factories import TechnologyFactory
from commandcenter import metrics
from commandcenter.exposition import credentials_match, ip_allowed

pytestmark = pytest.mark.django_db


def scrape(client: Client, **extra: str) -> dict[str, float]:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **extra)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            key = sample.name + "{" + ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items())) + "}"
            samples[key] = sample.value
    return samples


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("10.1.2.3", True),
        ("172.18.0.5", True),
        ("192.168.1.20", True),
        ("::ffff:172.18.0.5", True),
        ("8.8.8.8", False),
        ("172.32.0.1", False),
        ("2001:db8::1", False),
        ("not-an-ip", False),
        ("", False),
    ],
)
def test_default_networks(address, allowed, settings):
    assert ip_allowed(address, settings.METRICS_ALLOWED_IPS) is allowed


def test_metrics_are_served_to_allowed_networks_only():
    client = Client()
    assert client.get("/metrics", REMOTE_ADDR="172.18.0.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    # The host check does not apply: Prometheus scrapes by container IP.
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_HOST="10.0.0.5:8000").status_code == 200
    assert client.get("/metrics/", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_basic_auth_opens_metrics_from_anywhere(settings):
    settings.METRICS_BASIC_AUTH = "prometheus:s3cret-pass"
    good = "Basic " + base64.b64encode(b"prometheus:s3cret-pass").decode()
    bad = "Basic " + base64.b64encode(b"prometheus:wrong").decode()
    client = Client()
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=good).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=bad).status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Basic !!!").status_code == 403


def test_credentials_need_a_configured_secret():
    assert not credentials_match("Basic " + base64.b64encode(b":").decode(), "")


def test_custom_and_django_metrics_are_exported(api):
    TechnologyFactory.create()
    client = Client()
    before = scrape(client)
    response = api.post("/api/v1/technologies/", {"title": "Observed"})
    assert response.status_code == 201
    api.get("/api/v1/technologies/")
    after = scrape(client)
    key = "commandcenter_technology_operations_total{operation=create,status=success}"
    assert after[key] == before.get(key, 0) + 1
    assert any(name.startswith("django_http_requests_total_by_method_total{method=POST}") for name in after)
    assert any(name.startswith("django_db_execute_total") for name in after)
    assert "commandcenter_app_info{environment=local,version=0.1.0}" in after
    # Label values stay bounded: views and methods, never ids or raw paths.
    assert not any("/api/v1/" in name for name in after)


def test_each_request_is_counted_once_in_every_request_series(api):
    client = Client()
    before = scrape(client)
    for _ in range(2):
        assert api.get("/api/v1/technologies/").status_code == 200
    after = scrape(client)

    def added(family: str) -> float:
        return sum(value - before.get(key, 0) for key, value in after.items() if key.startswith(family + "{"))

    for family in (
        "django_http_requests_total_by_method_total",
        "django_http_requests_total_by_transport_total",
        "django_http_requests_total_by_view_transport_method_total",
        "django_http_responses_total_by_status_total",
        "django_http_responses_total_by_status_view_method_total",
        "django_http_requests_latency_seconds_by_view_method_count",
    ):
        assert added(family) == 2, family
    labels = [key for key in after if key.startswith("django_http_responses_total_by_status_view_method_total{")]
    assert any("method=GET,status=200,view=" in key and "technolog" in key for key in labels), labels


def test_every_registry_metric_is_defined():
    names = {
        "commandcenter_repository_operations_total",
        "commandcenter_technology_operations_total",
        "commandcenter_research_task_duration_seconds",
        "commandcenter_active_research_tasks",
        "commandcenter_rag_operations_total",
        "commandcenter_rag_query_duration_seconds",
        "commandcenter_cache_operations_total",
        "commandcenter_backup_last_success_timestamp_seconds",
        "commandcenter_backup_duration_seconds",
        "commandcenter_backup_size_bytes",
        "commandcenter_backup_failures_total",
        "commandcenter_backup_last_verified_timestamp_seconds",
        "commandcenter_backup_verify_failures_total",
        "commandcenter_app_info",
    }
    defined = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                defined.add(family.name + ("_total" if family.type == "counter" else ""))
    assert names <= defined


def test_the_spec_helpers_record():
    client = Client()
    metrics.track_rag_operation("query", success=False)
    with metrics.research_task_duration.labels(task_type="analysis").time():
        pass
    samples = scrape(client)
    assert samples["commandcenter_rag_operations_total{operation=query,status=failure}"] >= 1
    assert samples["commandcenter_research_task_duration_seconds_count{task_type=analysis}"] >= 1


def test_admin_writes_are_counted_like_api_writes(client, superuser):
    from prometheus_client import REGISTRY

    def value(operation: str) -> float:
        labels = {"operation": operation, "status": "success"}
        return REGISTRY.get_sample_value("commandcenter_technology_operations_total", labels) or 0.0

    client.force_login(superuser)
    created, deleted = value("create"), value("delete")
    form = {
        "title": "Admin made",
        "slug": "admin-made",
        "domain": "other",
        "status": "discovery",
        "relevance_score": 50,
        "priority": 3,
        "research_tasks-TOTAL_FORMS": 0,
        "research_tasks-INITIAL_FORMS": 0,
    }
    response = client.post("/admin/technologies/technology/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert value("create") == created + 1
    from apps.technologies.models import Technology

    tech = Technology.objects.get(slug="admin-made")
    response = client.post(f"/admin/technologies/technology/{tech.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert value("delete") == deleted + 1


def test_a_celery_worker_serves_its_own_metrics(settings):
    import urllib.request

    from commandcenter.celery import serve_worker_metrics
    from tests.live import free_port

    settings.CELERY_METRICS_PORT = free_port()
    settings.PROMETHEUS_MULTIPROC_DIR = ""
    serve_worker_metrics()
    metrics.track_repository_operation("sync", success=True)
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.CELERY_METRICS_PORT}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert 'commandcenter_repository_operations_total{operation="sync",status="success"}' in text
