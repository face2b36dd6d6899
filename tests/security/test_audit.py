""".ci/audit: pip-audit with reviewed ignores, failing loudly when nothing could be audited."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "audit"


def load_audit() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("ci_audit", str(SCRIPT))
    spec = importlib.util.spec_from_loader("ci_audit", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ci_audit"] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


audit = load_audit()

CANARY_FOUND = {
    "dependencies": [
        {"name": "django", "version": "4.2.0", "vulns": [{"id": "PYSEC-2023-61", "aliases": ["CVE-2023-31047"]}]}
    ]
}
# What pip-audit writes (with exit 0 and "No known vulnerabilities found") when the advisory
# service answers 404 or nothing: every package merely skipped.
CANARY_SKIPPED = {
    "dependencies": [
        {"name": "django", "skip_reason": "Dependency not found on PyPI and could not be audited: django (4.2.0)"}
    ]
}


def environment(*deps: dict) -> dict:
    return {"dependencies": list(deps), "fixes": []}


def dep(name: str, version: str, *vulns: dict) -> dict:
    return {"name": name, "version": version, "vulns": list(vulns)}


def test_ignores_need_a_reason():
    text = "# comment\n\nGHSA-aaaa-bbbb-cccc  the vulnerable parser is never called: we pass no user input\n"
    assert audit.parse_ignores(text) == {
        "GHSA-aaaa-bbbb-cccc": "the vulnerable parser is never called: we pass no user input"
    }
    with pytest.raises(audit.AuditError, match="has no reason"):
        audit.parse_ignores("PYSEC-2024-1\n")
    with pytest.raises(audit.AuditError, match="is not an advisory id"):
        audit.parse_ignores("django  too old\n")


def test_the_repository_ignore_file_is_valid():
    audit.parse_ignores((ROOT / ".pip-audit-ignore").read_text())


def test_pins_are_read_through_included_files(tmp_path):
    (tmp_path / "base.txt").write_text("Django==5.2.19\ncelery[redis]==5.7.0  # broker\n")
    (tmp_path / "dev.txt").write_text("-r base.txt\n# tools\npytest==9.2.0\n")
    assert audit.read_pins(tmp_path / "dev.txt") == {"django": "5.2.19", "celery": "5.7.0", "pytest": "9.2.0"}


def test_the_canary_tells_whether_advisories_arrive():
    assert audit.canary_reached(CANARY_FOUND)
    assert not audit.canary_reached(CANARY_SKIPPED)
    assert not audit.canary_reached({"dependencies": [dep("django", "4.2.0")]})


def test_it_reports_advisories_that_are_not_ignored():
    vuln = {"id": "GHSA-1111-2222-3333", "aliases": ["CVE-2026-1"], "fix_versions": ["1.2"]}
    ignored = {"id": "PYSEC-2026-9", "aliases": ["CVE-2026-9"], "fix_versions": []}
    report = environment(dep("lib", "1.1", vuln), dep("other", "2.0", ignored))
    findings = audit.evaluate(report, {"lib": "1.1", "other": "2.0"}, {"CVE-2026-9": "not reachable"})
    assert findings.vulnerable == [("lib", "1.1", "GHSA-1111-2222-3333", ["1.2"])]
    assert findings.ignored == {"CVE-2026-9"}
    assert findings.audited == 2


def test_it_notices_a_pin_that_is_not_installed():
    findings = audit.evaluate(environment(dep("lib", "1.0")), {"lib": "1.1", "gone": "3.0"}, {})
    assert findings.missing_pins == ["gone==3.0 (installed: none)", "lib==1.1 (installed: 1.0)"]


@pytest.fixture
def fake_pip_audit(monkeypatch):
    def install(canary: dict, env: dict) -> None:
        def run(arguments, cache_dir):
            return canary if "--no-deps" in arguments else env

        monkeypatch.setattr(audit, "pip_audit", run)

    return install


@pytest.fixture
def pins(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("lib==1.0\n")
    return [path]


def test_it_fails_when_the_advisories_do_not_arrive(fake_pip_audit, pins, capsys):
    fake_pip_audit(CANARY_SKIPPED, environment(dep("lib", "1.0")))
    with pytest.raises(audit.AuditError, match="NOTHING WAS AUDITED") as error:
        audit.audit(pins, None)
    assert error.value.code == audit.UNREACHABLE


def test_it_fails_when_a_package_was_skipped(fake_pip_audit, pins):
    skipped = {"name": "private-lib", "skip_reason": "Dependency not found on PyPI and could not be audited"}
    fake_pip_audit(CANARY_FOUND, environment(dep("lib", "1.0"), skipped))
    with pytest.raises(audit.AuditError, match="1 installed package") as error:
        audit.audit(pins, None)
    assert error.value.code == audit.UNREACHABLE


def test_a_clean_environment_passes(fake_pip_audit, pins):
    fake_pip_audit(CANARY_FOUND, environment(dep("lib", "1.0")))
    findings = audit.audit(pins, None)
    assert (findings.audited, findings.vulnerable, findings.missing_pins) == (1, [], [])


def run_script(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # A proxy nobody listens on: pip-audit cannot reach the advisory service at all.
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"no_proxy", "https_proxy", "http_proxy"}}
    env.update(HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    command = [sys.executable, str(SCRIPT), "--cache-dir", str(tmp_path / "cache"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_without_network_it_exits_non_zero_with_a_clear_message(tmp_path):
    result = run_script(tmp_path=tmp_path)
    assert result.returncode == audit.UNREACHABLE, result.stderr
    assert "audit: FAILED" in result.stderr
    assert "pip-audit failed" in result.stderr


def test_allow_unreachable_prints_a_banner_instead(tmp_path):
    result = run_script("--allow-unreachable", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "audit: NOT AUDITED." in result.stderr
