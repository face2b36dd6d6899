"""alertmanager.yml: valid for amtool, routes by severity, needs no secret."""

from __future__ import annotations

import subprocess

import pytest

from .helpers import MONITORING, alert_rules, load_yaml, require_tool

CONFIG = MONITORING / "alertmanager.yml"


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("amtool"), *args], cwd=MONITORING, capture_output=True, text=True, timeout=30, check=False
    )


def test_amtool_accepts_the_config():
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=BackendUnavailable", "severity=critical"], "critical"),
        (["alertname=HostHighCpu", "severity=warning"], "warning"),
        (["alertname=SomethingElse"], "default"),
    ],
)
def test_alerts_are_routed_by_severity(labels, receiver):
    result = amtool("config", "routes", "test", f"--config.file={CONFIG}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_every_severity_used_by_the_rules_has_a_route():
    config = load_yaml(CONFIG)
    routed = {matcher for route in config["route"]["routes"] for matcher in route["matchers"]}
    for severity in {rule["labels"]["severity"] for rule in alert_rules()}:
        assert f'severity="{severity}"' in routed


def test_a_critical_alert_inhibits_the_warning_of_the_same_alert_and_instance():
    rules = load_yaml(CONFIG)["inhibit_rules"]
    assert {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["alertname", "instance"],
    } in rules


# Secret-bearing fields of Alertmanager integrations: only their `*_file` variants are allowed.
INLINE_SECRETS = {"api_url", "auth_password", "auth_secret", "bot_token", "routing_key", "service_key", "api_key"}


def walk(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def test_the_default_receiver_needs_no_secret_and_none_is_inline():
    config = load_yaml(CONFIG)
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    assert set(receivers[config["route"]["receiver"]]) == {"name"}
    assert sorted(INLINE_SECRETS & set(walk(config))) == []
