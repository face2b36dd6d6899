"""The GitHub Actions workflow: valid against GitHub's schema, no stage that can fail quietly,
the stages of the spec, and the same commands as `make lint` / .ci/run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def steps(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return list(workflow["jobs"][job]["steps"])


def test_it_is_valid_against_githubs_workflow_schema():
    tool = Path(sys.executable).parent / "check-jsonschema"
    if not tool.exists():
        message = "check-jsonschema is not installed (pip install -r requirements/dev.txt)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    # The schema vendored in check-jsonschema: no network.
    result = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_nothing_is_allowed_to_fail_quietly(workflow):
    for name, job in workflow["jobs"].items():
        assert "continue-on-error" not in job, name
        for step in job["steps"]:
            assert "continue-on-error" not in step, step
            command = step.get("run", "")
            assert not re.search(r"\|\|\s*(true|:|exit 0)\b", command), command
            assert "set +e" not in command, command
            # Steps that run after a failure only collect results, show logs or clean up.
            if "if" in step:
                assert step["if"] in {"always()", "failure()"}, step


def test_it_runs_on_pushes_and_pull_requests(workflow):
    assert {"push", "pull_request"} <= set(workflow["on"])
    assert workflow["permissions"] == {"contents": "read"}


def test_it_has_the_stages_of_the_spec(workflow):
    assert set(workflow["jobs"]) == {"lint", "security", "test", "docker", "integration", "trivy"}
    commands = {job: " ".join(step.get("run", "") for step in steps(workflow, job)) for job in workflow["jobs"]}
    assert "ruff format --check" in commands["lint"]
    assert "ruff check" in commands["lint"]
    assert "mypy" in commands["lint"]
    assert "makemigrations --check" in commands["lint"]
    assert "bandit" in commands["security"]
    assert "python .ci/audit" in commands["security"]
    assert "--allow-unreachable" not in WORKFLOW.read_text()
    assert "pytest" in commands["test"]
    assert "docker compose -f deploy/docker-compose.yml up" in commands["integration"]
    assert "tests/smoke" in commands["integration"]
    assert "down -v" in commands["integration"]


def test_tests_run_with_coverage_on_postgresql_and_redis(workflow):
    job = workflow["jobs"]["test"]
    assert {"postgres", "redis"} <= set(job["services"])
    assert job["env"]["CI"] == "true"
    assert job["env"]["DATABASE_URL"].startswith("postgres://")
    assert job["env"]["REDIS_URL"].startswith("redis://")
    upload = next(step for step in job["steps"] if step.get("uses", "").startswith("codecov/codecov-action@"))
    assert upload["with"]["fail_ci_if_error"] is True


def test_images_are_built_from_deploy_dockerfile_with_the_layer_cache(workflow):
    for job in ("docker", "integration", "trivy"):
        build = next(s for s in steps(workflow, job) if s.get("uses", "").startswith("docker/build-push-action@"))
        assert build["with"]["file"] == "deploy/Dockerfile"
        assert build["with"]["context"] == "."
        assert build["with"]["cache-from"] == "type=gha"
    docker = next(s for s in steps(workflow, "docker") if s.get("uses", "").startswith("docker/build-push-action@"))
    assert docker["with"]["cache-to"] == "type=gha,mode=max"


def test_trivy_results_go_to_code_scanning(workflow):
    job = workflow["jobs"]["trivy"]
    assert job["permissions"]["security-events"] == "write"
    scans = [s for s in job["steps"] if s.get("uses", "").startswith("aquasecurity/trivy-action@")]
    assert {scan["with"].get("scan-type", "image") for scan in scans} == {"image", "fs"}
    uploads = [s for s in job["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    assert {u["with"]["sarif_file"] for u in uploads} == {scan["with"]["output"] for scan in scans}
    assert all(scan["with"]["exit-code"] == "1" for scan in scans)


def test_every_action_is_pinned_to_a_version(workflow):
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.search(r"@(v\d+(\.\d+)*|[0-9a-f]{40})$", step["uses"]), step["uses"]


def test_the_workflow_runs_the_commands_of_make_lint():
    makefile = (ROOT / "Makefile").read_text()
    text = WORKFLOW.read_text()
    for command in (
        "ruff check . .ci/audit",
        "ruff format --check . .ci/audit",
        "mypy apps commandcenter config benchmarks",
        "bandit -c pyproject.toml -r apps commandcenter config -ll",
        ".ci/audit",
    ):
        assert command in makefile, command
        assert command in text, command
