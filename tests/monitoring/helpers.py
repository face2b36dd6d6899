"""Shared helpers of the monitoring tests: paths, loaders, the external-tool guard and a PromQL
metric-name extractor."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
DASHBOARDS = MONITORING / "grafana" / "dashboards"
DATASOURCES = MONITORING / "grafana" / "provisioning" / "datasources" / "datasources.yml"
EXPORTER_METRICS = MONITORING / "exporter-metrics"
RUNBOOK_BASE = "https://github.com/commandcenter/commandcenter/blob/main/README.md#"

# The compose services Prometheus scrapes (DESIGN.md §3), which are also its job names.
SCRAPE_JOBS = {
    "backend",
    "worker",
    "celery-exporter",
    "postgres-exporter",
    "redis-exporter",
    "node-exporter",
    "cadvisor",
    "traefik",
    "alertmanager",
    "prometheus",
}


def require_tool(name: str) -> str:
    """The path of an external binary; skip without it, but fail under CI=true."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian: apt-get install -y prometheus prometheus-alertmanager)"
        if IN_CI:
            pytest.fail(f"{message}; CI=true: a missing tool is a failure, not a skip")
        pytest.skip(message)
    return path


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    groups = load_yaml(MONITORING / "alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in (collapsed) rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def prometheus_targets(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, expr) of every target that queries Prometheus."""
    for panel in iter_panels(board["panels"]):
        for target in panel.get("targets", []):
            source = target.get("datasource") or panel.get("datasource") or {}
            if source.get("type") == "prometheus":
                yield panel["title"], target["expr"]


def exporter_metric_names() -> dict[str, set[str]]:
    """Exporter (file stem = Prometheus job) -> the metric names listed for it."""
    lists = {}
    for path in sorted(EXPORTER_METRICS.glob("*.txt")):
        lines = (line.strip() for line in path.read_text().splitlines())
        lists[path.stem] = {line for line in lines if line and not line.startswith("#")}
    return lists


# --- PromQL ------------------------------------------------------------------------------------

# Identifiers that are never metric names: keywords, operators, aggregations and the
# @-modifier's start()/end(). Functions are recognised by the "(" that follows them.
PROMQL_KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "atan2",
    "start",
    "end",
}
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_NAME_MATCHER = re.compile(r"__name__\s*(=~|!=|!~|=)\s*(\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*')")
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE)
_TOKEN = re.compile(
    r"(?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?:ms|[smhdwy])*)"
    r"|(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)"
    r"|(?P<other>\S)"
)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects, exactly as stored (``x_bucket`` stays so).

    Label names (inside ``{}`` and ``by (...)``), strings, durations, numbers, functions,
    aggregation operators, keywords and Grafana variables are not metric names.
    """
    names = set()
    for operator, quoted in _NAME_MATCHER.findall(expr):
        if operator != "=":
            raise ValueError(f"cannot resolve __name__{operator}{quoted} in {expr!r}")
        names.add(quoted[1:-1])
    text = _STRING.sub(" ", expr)
    text = re.sub(r"#[^\n]*", " ", text)
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"\[[^\[\]]*\]", " ", text)
    text = _GRAFANA_VARIABLE.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    for match in _TOKEN.finditer(text):
        name = match.group("name")
        if name is None or name.lower() in PROMQL_KEYWORDS:
            continue
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function call
        names.add(name)
    return names
