"""alerts.yml: labels and annotations of every alert, a runbook for each, and promtool cases
that cover every alert both firing and not firing."""

from __future__ import annotations

import os
import re
from collections import defaultdict

import pytest

from conftest import IN_CI

from .helpers import MONITORING, ROOT, RUNBOOK_BASE, alert_rules, load_yaml


def test_alert_names_are_unique_and_every_alert_has_a_severity_and_annotations():
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), names
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        annotations = rule["annotations"]
        for key in ("summary", "description", "runbook_url"):
            assert str(annotations.get(key, "")).strip(), f"{rule['alert']} has no {key}"


def test_every_runbook_url_points_at_the_readme_section_of_its_alert():
    for rule in alert_rules():
        assert rule["annotations"]["runbook_url"] == RUNBOOK_BASE + rule["alert"].lower()


def test_the_spec_alerts_are_all_there():
    names = {rule["alert"] for rule in alert_rules()}
    assert {
        "ServiceDown",
        "BackendHighLatency",
        "BackendHighErrorRate",
        "PostgreSQLDown",
        "PostgreSQLTooManyConnections",
        "RedisDown",
        "RedisMemoryHigh",
        "HostHighCpu",
        "HostHighMemory",
        "HostDiskSpaceLow",
        "HostDiskSpaceCritical",
        "ContainerHighCpu",
        "ContainerHighMemory",
        "CeleryWorkerDown",
        "CeleryQueueBacklog",
        "BackupMissing",
        "BackupFailed",
        "RestoreDrillFailed",
        "RestoreDrillMissing",
    } <= names


def test_every_alert_has_a_firing_and_a_non_firing_promtool_case():
    suite = load_yaml(MONITORING / "alerts.test.yml")
    assert suite["rule_files"] == ["alerts.yml"]
    firing: dict[str, int] = defaultdict(int)
    quiet: dict[str, int] = defaultdict(int)
    for case in suite["tests"]:
        for check in case.get("alert_rule_test", []):
            if check.get("exp_alerts"):
                firing[check["alertname"]] += 1
            else:
                quiet[check["alertname"]] += 1
    names = {rule["alert"] for rule in alert_rules()}
    assert sorted(names - set(firing)) == [], "alerts without a firing case"
    assert sorted(names - set(quiet)) == [], "alerts without a non-firing case"
    assert sorted((set(firing) | set(quiet)) - names) == [], "cases for alerts that do not exist"


def test_every_alert_has_a_runbook_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Alert runbooks\n(.*?)(?=^## |\Z)", readme, re.MULTILINE | re.DOTALL)
    if match is None:
        message = "README.md has no '## Alert runbooks' section yet"
        if IN_CI or os.environ.get("REQUIRE_RUNBOOKS"):
            pytest.fail(message)
        pytest.skip(message)
    headings = set(re.findall(r"^### (\S+)\s*$", match.group(1), re.MULTILINE))
    missing = sorted(rule["alert"] for rule in alert_rules() if rule["alert"] not in headings)
    assert missing == [], f"alerts without a '### <AlertName>' runbook in README.md: {missing}"
