"""The app under gunicorn with 3 workers: one scrape adds up every worker; real Prometheus."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live import LiveApp, free_port, gunicorn_app, require_binary

pytestmark = pytest.mark.slow
REQUESTS = 30


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with gunicorn_app(tmp_path_factory.mktemp("live")) as app:
        for n in range(REQUESTS):
            status, headers, body = app.request(
                "POST", "/api/v1/technologies/", {"title": f"Live {n}"}, {"X-Request-ID": f"live-{n}"}
            )
            assert status == 201, body
            assert headers["X-Request-ID"] == f"live-{n}"
        yield app


def sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


def test_one_scrape_adds_up_all_gunicorn_workers(live_app):
    status, _, body = live_app.request("GET", "/metrics")
    assert status == 200
    text = body.decode()
    created = sample(text, "commandcenter_technology_operations_total", operation="create", status="success")
    assert created == REQUESTS
    assert sample(text, "django_http_requests_total_by_method_total", method="POST") == REQUESTS
    assert sample(text, "commandcenter_app_info", environment="local") == 1


def test_request_logs_are_json_lines_with_the_contract_fields(live_app):
    lines = [line for line in live_app.log_lines() if line.get("event") == "request_finished"]
    posts = [line for line in lines if line.get("method") == "POST"]
    assert len(posts) == REQUESTS
    assert {line["request_id"] for line in posts} == {f"live-{n}" for n in range(REQUESTS)}
    for line in posts:
        assert line["path"] == "/api/v1/technologies/"
        assert line["status_code"] == 201
        assert line["level"] == "INFO"
        assert isinstance(line["duration"], float)
        assert line["user_id"] is not None
        assert line["timestamp"]
        assert line["logger"]
    assert live_app.key not in live_app.log.read_text()


def test_a_real_prometheus_scrapes_the_app(live_app, tmp_path: Path):
    binary = require_binary("prometheus")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: backend\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{live_app.port}']\n"
    )
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def query(expr: str) -> list[dict[str, object]]:
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as response:
            data = json.load(response)
        assert data["status"] == "success"
        result: list[dict[str, object]] = data["data"]["result"]
        return result

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                up = query('up{job="backend"}')
                created = query('commandcenter_technology_operations_total{operation="create",status="success"}')
                if up and up[0]["value"][1] == "1" and created:  # type: ignore[index]
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("Prometheus did not scrape the app")
            time.sleep(0.5)
        assert float(created[0]["value"][1]) == REQUESTS  # type: ignore[index]
        assert query("django_http_requests_total_by_method_total")
    finally:
        process.terminate()
        process.wait(timeout=20)
