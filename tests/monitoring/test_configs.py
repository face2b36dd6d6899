"""Structure of the monitoring configuration: Prometheus jobs, promtail labels, Loki retention,
Grafana provisioning and dashboards."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from commandcenter import metrics

from .helpers import (
    DASHBOARDS,
    DATASOURCES,
    MONITORING,
    SCRAPE_JOBS,
    dashboards,
    iter_panels,
    load_yaml,
    metric_names,
    prometheus_targets,
)

YAML_FILES = sorted(MONITORING.rglob("*.yml"))


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda path: str(path.relative_to(MONITORING)))
def test_every_yaml_file_parses(path: Path):
    assert isinstance(yaml.safe_load(path.read_text()), dict)


def test_the_expected_files_exist():
    expected = {
        "prometheus.yml",
        "alerts.yml",
        "alerts.test.yml",
        "alertmanager.yml",
        "loki-config.yml",
        "promtail-config.yml",
        "grafana/provisioning/datasources/datasources.yml",
        "grafana/provisioning/dashboards/dashboards.yml",
        "grafana/dashboards/system-overview.json",
        "grafana/dashboards/application-metrics.json",
        "grafana/dashboards/infrastructure.json",
    }
    assert sorted(name for name in expected if not (MONITORING / name).is_file()) == []


# --- Prometheus ----------------------------------------------------------------------------------


def prometheus_jobs() -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in load_yaml(MONITORING / "prometheus.yml")["scrape_configs"]}


def test_prometheus_scrapes_every_service_every_15_seconds_under_its_compose_name():
    config = load_yaml(MONITORING / "prometheus.yml")
    assert config["global"]["scrape_interval"] == "15s"
    assert set(prometheus_jobs()) == SCRAPE_JOBS
    assert config["rule_files"] == ["alerts.yml"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


@pytest.mark.parametrize(("job", "port"), [("backend", 8000), ("worker", 9540)])
def test_every_replica_of_the_application_is_scraped_through_docker_dns(job, port):
    config = prometheus_jobs()[job]
    assert config.get("metrics_path", "/metrics") == "/metrics"
    assert config["dns_sd_configs"] == [{"names": [job], "type": "A", "port": port, "refresh_interval": "30s"}]


def test_the_backend_scrape_sends_basic_auth_from_a_secret_file():
    auth = prometheus_jobs()["backend"]["basic_auth"]
    assert auth == {"username": "prometheus", "password_file": "/etc/prometheus/secrets/metrics_password"}


@pytest.mark.parametrize(
    ("job", "target"),
    [
        ("celery-exporter", "celery-exporter:9808"),
        ("postgres-exporter", "postgres-exporter:9187"),
        ("redis-exporter", "redis-exporter:9121"),
        ("node-exporter", "node-exporter:9100"),
        ("cadvisor", "cadvisor:8080"),
        ("traefik", "traefik:8082"),
        ("alertmanager", "alertmanager:9093"),
        ("prometheus", "localhost:9090"),
    ],
)
def test_the_exporters_are_scraped_at_their_service_address(job, target):
    assert prometheus_jobs()[job]["static_configs"] == [{"targets": [target]}]


# --- promtail ------------------------------------------------------------------------------------


def relabel(labels: dict[str, str], rules: list[dict[str, Any]]) -> dict[str, str] | None:
    """Prometheus relabelling (replace and keep), as promtail applies it; None when dropped."""
    labels = dict(labels)
    for rule in rules:
        action = rule.get("action", "replace")
        value = rule.get("separator", ";").join(labels.get(name, "") for name in rule.get("source_labels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        if action == "keep":
            if match is None:
                return None
        elif action == "replace":
            if match is not None:
                replacement = rule.get("replacement", "$1")
                result = match.expand(re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", replacement))
                if result:
                    labels[rule["target_label"]] = result
                else:
                    labels.pop(rule["target_label"], None)
        else:
            raise AssertionError(f"relabel action {action!r} not simulated")
    return {name: value for name, value in labels.items() if not name.startswith("__")}


def container(service: str, number: int = 1) -> dict[str, str]:
    return {
        "__meta_docker_container_label_com_docker_compose_service": service,
        "__meta_docker_container_label_com_docker_compose_project": "commandcenter",
        "__meta_docker_container_name": f"/commandcenter-{service}-{number}",
        "__meta_docker_container_log_stream": "stdout",
    }


def promtail_job() -> dict[str, Any]:
    (job,) = load_yaml(MONITORING / "promtail-config.yml")["scrape_configs"]
    return job


@pytest.mark.parametrize("service", ["backend", "worker", "beat", "postgres", "traefik", "celery-exporter"])
def test_promtail_labels_each_container_with_its_compose_service(service):
    labels = relabel(container(service, 2), promtail_job()["relabel_configs"])
    assert labels == {
        "service": f"commandcenter-{service}",
        "compose_project": "commandcenter",
        "container": f"commandcenter-{service}-2",
        "stream": "stdout",
    }


def test_promtail_drops_containers_that_are_not_services_of_the_stack():
    rules = promtail_job()["relabel_configs"]
    assert relabel(container("someone-elses-app"), rules) is None
    assert relabel({"__meta_docker_container_name": "/adhoc"}, rules) is None


def test_promtail_reads_the_docker_socket_and_pushes_to_loki():
    config = load_yaml(MONITORING / "promtail-config.yml")
    assert promtail_job()["docker_sd_configs"][0]["host"] == "unix:///var/run/docker.sock"
    assert config["clients"] == [{"url": "http://loki:3100/loki/api/v1/push"}]


def test_promtail_parses_the_application_json_and_labels_the_level_only():
    (match,) = promtail_job()["pipeline_stages"]
    selector = match["match"]["selector"]
    for service in ("backend", "worker", "beat"):
        assert re.search(rf"\b{service}\b", selector)
    stages = match["match"]["stages"]
    json_stage = next(stage["json"] for stage in stages if "json" in stage)
    assert {"level", "logger", "request_id", "path", "status_code", "duration", "event"} <= set(
        json_stage["expressions"]
    )
    label_stages = [stage["labels"] for stage in stages if "labels" in stage]
    assert label_stages == [{"level": None}], "only low-cardinality fields may become labels"


# --- Loki ----------------------------------------------------------------------------------------


def test_loki_keeps_logs_720_hours_and_the_compactor_deletes_older_ones():
    config = load_yaml(MONITORING / "loki-config.yml")
    assert config["limits_config"]["retention_period"] == "720h"
    compactor = config["compactor"]
    assert compactor["retention_enabled"] is True
    assert compactor["delete_request_store"] == "filesystem"


def test_loki_is_a_single_binary_on_the_filesystem():
    config = load_yaml(MONITORING / "loki-config.yml")
    assert "target" not in config  # default: all components in one process
    assert config["server"]["http_listen_port"] == 3100
    assert "filesystem" in config["common"]["storage"]
    assert [(schema["store"], schema["object_store"]) for schema in config["schema_config"]["configs"]] == [
        ("tsdb", "filesystem")
    ]


# --- Grafana -------------------------------------------------------------------------------------


def datasource_uids() -> dict[str, str]:
    return {source["uid"]: source["type"] for source in load_yaml(DATASOURCES)["datasources"]}


def test_grafana_data_sources_have_fixed_uids():
    sources = {source["type"]: source for source in load_yaml(DATASOURCES)["datasources"]}
    assert (sources["prometheus"]["uid"], sources["prometheus"]["url"]) == ("prometheus", "http://prometheus:9090")
    assert (sources["loki"]["uid"], sources["loki"]["url"]) == ("loki", "http://loki:3100")


def test_grafana_loads_the_dashboards_from_their_folder():
    (provider,) = load_yaml(MONITORING / "grafana/provisioning/dashboards/dashboards.yml")["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_dashboards_are_valid_with_unique_uids_and_titles():
    boards = dashboards()
    assert set(boards) == {"system-overview.json", "application-metrics.json", "infrastructure.json"}
    assert {board["title"] for board in boards.values()} == {"System Overview", "Application Metrics", "Infrastructure"}
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids)
    for name, board in boards.items():
        assert board["schemaVersion"] >= 36, name
        panel_ids = [panel["id"] for panel in iter_panels(board["panels"])]
        assert len(set(panel_ids)) == len(panel_ids), f"{name}: duplicate panel ids"


def test_every_panel_queries_a_provisioned_data_source_by_uid():
    uids = datasource_uids()
    for name, board in dashboards().items():
        for panel in iter_panels(board["panels"]):
            if panel["type"] == "row":
                continue
            assert panel["targets"], f"{name} / {panel['title']}: no query"
            for target in panel["targets"]:
                source = target.get("datasource", panel["datasource"])
                assert uids.get(source["uid"]) == source["type"], f"{name} / {panel['title']}: {source}"
                assert target["expr"].strip(), f"{name} / {panel['title']}: empty expr"


def panel_metrics(filename: str) -> set[str]:
    return {name for _, expr in prometheus_targets(dashboards()[filename]) for name in metric_names(expr)}


def test_application_metrics_has_a_panel_for_every_custom_metric():
    defined = set()
    for value in vars(metrics).values():
        describe = getattr(value, "describe", None)
        if describe is not None and getattr(value, "_name", "").startswith("commandcenter_"):
            defined |= {family.name for family in describe()}
    assert len(defined) >= 14
    used = panel_metrics("application-metrics.json")
    # A family is on the dashboard when any of its samples is (x_total, x_bucket, x_sum, ...).
    missing = sorted(
        family
        for family in defined
        if not any(name == family or re.fullmatch(rf"{family}_(total|bucket|sum|count)", name) for name in used)
    )
    assert missing == []


def test_system_overview_shows_the_spec_signals():
    used = panel_metrics("system-overview.json")
    assert {
        "up",
        "django_http_requests_latency_seconds_by_view_method_bucket",
        "django_http_responses_total_by_status_view_method_total",
        "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes",
        "node_filesystem_avail_bytes",
        "celery_queue_length",
    } <= used


def test_infrastructure_covers_node_containers_postgresql_and_redis():
    used = panel_metrics("infrastructure.json")
    prefixes = {name.split("_")[0] for name in used}
    assert {"node", "container", "pg", "redis"} <= prefixes


def test_dashboard_files_are_pretty_printed():
    for path in sorted(DASHBOARDS.glob("*.json")):
        assert path.read_text().startswith("{\n  "), f"{path.name}: keep the JSON indented for readable diffs"
