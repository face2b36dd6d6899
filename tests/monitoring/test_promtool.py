"""The Prometheus configuration, the alerting rules and their unit tests, checked by promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from .helpers import MONITORING, alert_rules, dashboards, prometheus_targets, require_tool


def run(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_it_accepts_the_prometheus_config(tmp_path):
    promtool = require_tool("promtool")
    # promtool resolves rule_files (and, in newer versions, password files) and requires them
    # to exist: check a copy whose paths point into this checkout and a scratch secret.
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["rule_files"] = [str(MONITORING / name) for name in config["rule_files"]]
    secret = tmp_path / "metrics_password"
    secret.write_text("scrape-password\n")
    for job in config["scrape_configs"]:
        if "basic_auth" in job:
            job["basic_auth"]["password_file"] = str(secret)
    copy = tmp_path / "prometheus.yml"
    copy.write_text(yaml.safe_dump(config, sort_keys=False))

    result = run(promtool, "check", "config", str(copy))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_it_accepts_the_alerting_rules():
    result = run(require_tool("promtool"), "check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_unit_tests_pass():
    result = run(require_tool("promtool"), "test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_dashboard_query_is_valid_promql(tmp_path):
    promtool = require_tool("promtool")
    # Each query becomes a recording rule, the only way promtool parses a bare expression.
    rules = []
    for filename, board in dashboards().items():
        for index, (title, expr) in enumerate(prometheus_targets(board)):
            concrete = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
            rules.append({"record": f"dashboard:{Path(filename).stem.replace('-', '_')}:{index}", "expr": concrete})
            assert "$" not in concrete, f"{filename} / {title}: unsupported Grafana variable in {expr!r}"
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))

    result = run(promtool, "check", "rules", str(path))

    assert result.returncode == 0, result.stdout + result.stderr
