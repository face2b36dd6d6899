"""Every metric an alert or a dashboard reads exists: in a real scrape of the application's
/metrics, or in the checked-in list of the exporter that produces it.

A query on a metric nobody exports does not fail: it silently returns nothing, so the panel
stays empty and the alert never fires. This catches renamed or mistyped metrics, and alerts
for exporters that are not deployed.
"""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from apps.core.services import issue_api_key
from apps.core.tests.factories import UserFactory
from commandcenter import metrics

from .helpers import SCRAPE_JOBS, alert_rules, dashboards, exporter_metric_names, metric_names, prometheus_targets

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up == 0", {"up"}),
        ('up{job=~"backend|worker"} == 0', {"up"}),
        (
            "histogram_quantile(0.95, sum by (le) (rate(http_request_seconds_bucket[5m]))) > 1",
            {"http_request_seconds_bucket"},
        ),
        ("sum(rate(x_sum[$__rate_interval])) / sum(rate(x_count[$__rate_interval]))", {"x_sum", "x_count"}),
        ("sum(rate(requests_total[5m])) by (status, le)", {"requests_total"}),
        ("a / on(instance) group_left(version) b", {"a", "b"}),
        ("a / ignoring (mode) group_right b", {"a", "b"}),
        ("time() - max by (component) (max_over_time(ts_seconds[27h])) > 26 * 3600", {"ts_seconds"}),
        ("absent_over_time(ts_seconds[9d]) or absent(other == 1)", {"ts_seconds", "other"}),
        ("x > 0 unless x offset 2h", {"x"}),
        ("rate(x[5m:1m] @ start())", {"x"}),
        ("max_over_time(x[1h30m]) > 1e3 and y > bool 0.5", {"x", "y"}),
        ('label_replace(node_uname_info, "host", "$1", "nodename", "(.*)")', {"node_uname_info"}),
        ('{__name__="weird:name", job="x"}', {"weird:name"}),
        ('sum by (alertname) (ALERTS{alertstate="firing", by="on(sum)"})', {"ALERTS"}),
        ("topk(10, sum by (view) (rate(v_total[${__range}])))", {"v_total"}),
        ("vector(1) + scalar(count(z))", {"z"}),
        ("mem_available_bytes / mem_total_bytes  # ratio of not_a_metric", {"mem_available_bytes", "mem_total_bytes"}),
    ],
)
def test_the_extractor_finds_metric_names_only(expr, names):
    assert metric_names(expr) == names


def test_the_extractor_refuses_a_name_it_cannot_resolve():
    with pytest.raises(ValueError, match="__name__"):
        metric_names('{__name__=~"node_.*"}')


def test_exporter_lists_name_scraped_jobs_and_hold_valid_unique_names():
    lists = exporter_metric_names()
    assert set(lists) == SCRAPE_JOBS - {"backend", "worker"}
    for exporter, names in lists.items():
        assert names, exporter
        assert sorted(name for name in names if not METRIC_NAME.fullmatch(name)) == [], exporter
        # A histogram is stored as three series: list them together.
        for name in names:
            if name.endswith("_bucket"):
                family = name.removesuffix("_bucket")
                assert {f"{family}_sum", f"{family}_count"} <= names, f"{exporter}: {family} is incomplete"
    # A name belongs to one exporter (process_* and go_* excepted: every Go exporter has them).
    seen: dict[str, str] = {}
    for exporter, names in lists.items():
        for name in names:
            if name.startswith(("process_", "go_")):
                continue
            assert name not in seen, f"{name} listed for {seen.get(name)} and {exporter}"
            seen[name] = exporter


def used_metrics() -> dict[str, set[str]]:
    """Metric name -> where it is used ("alert X", "dashboard.json / panel")."""
    used: dict[str, set[str]] = {}
    for rule in alert_rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, set()).add(f"alert {rule['alert']}")
    for filename, board in dashboards().items():
        for title, expr in prometheus_targets(board):
            for name in metric_names(expr):
                used.setdefault(name, set()).add(f"{filename} / {title}")
    return used


def exercise_the_application() -> None:
    """Requests and helper calls so that django-prometheus and every custom metric have samples."""
    user = UserFactory.create(is_staff=True, is_superuser=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_api_key(user).key}")
    assert api.get("/api/v1/technologies/").status_code == 200
    technology = api.post("/api/v1/technologies/", {"title": "ChromaDB", "domain": "ai-ml", "ring": "trial"})
    assert technology.status_code == 201, technology.content
    url = f"/api/v1/technologies/{technology.json()['id']}/"
    assert api.patch(url, {"ring": "adopt"}).status_code == 200
    assert api.delete(url).status_code == 204
    repository = api.post("/api/v1/repositories/", {"full_name": "chroma-core/chroma"})
    assert repository.status_code == 201, repository.content
    url = f"/api/v1/repositories/{repository.json()['id']}/"
    assert api.patch(url, {"description": "vector database"}).status_code == 200
    assert api.delete(url).status_code == 204
    assert api.get("/api/v1/no-such-endpoint/").status_code == 404

    # Research, knowledge and backup code does not exist yet: call the helpers and observe
    # every histogram and gauge once, as that code will.
    metrics.track_repository_operation("sync", success=True)
    metrics.track_technology_operation("import", success=True)
    metrics.track_rag_operation("query", success=True)
    metrics.track_cache_operation("get", "hit")
    metrics.track_cache_operation("get", "miss")
    with metrics.research_task_duration.labels(task_type="analysis").time():
        metrics.active_research_tasks.inc()
        metrics.active_research_tasks.dec()
    metrics.rag_query_duration.observe(0.05)
    metrics.backup_last_success.labels(component="postgres").set(time.time())
    metrics.backup_duration.labels(component="postgres").observe(12.5)
    metrics.backup_size.labels(component="postgres").set(1024)
    metrics.backup_failures.labels(component="postgres")  # exported at 0 once the child exists
    metrics.backup_last_verified.set(time.time())
    metrics.backup_verify_failures.inc(0)
    metrics.set_app_info()


@pytest.fixture
def restore_backup_gauges():
    """Gauges hold state ("last backup: now") that later tests must not inherit."""

    def components(gauge) -> set[str]:
        return {sample.labels["component"] for family in gauge.collect() for sample in family.samples}

    labelled = (metrics.backup_last_success, metrics.backup_size)
    before = {gauge: components(gauge) for gauge in labelled}
    (family,) = metrics.backup_last_verified.collect()
    verified = family.samples[0].value
    yield
    for gauge, existing in before.items():
        for component in components(gauge) - existing:
            gauge.remove(component)
    metrics.backup_last_verified.set(verified)


@pytest.mark.django_db
@pytest.mark.usefixtures("restore_backup_gauges")
def test_every_metric_of_the_alerts_and_dashboards_is_exported():
    exercise_the_application()
    response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200, f"GET /metrics answered {response.status_code}: the scrape is needed"
    scraped = {
        sample.name for family in text_string_to_metric_families(response.content.decode()) for sample in family.samples
    }
    exported = set(scraped)
    for names in exporter_metric_names().values():
        exported |= names

    unknown = {name: sorted(places) for name, places in sorted(used_metrics().items()) if name not in exported}

    assert unknown == {}, "metrics that neither the application nor a deployed exporter exports"
