from __future__ import annotations

import contextlib
import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from commandcenter import health

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def roomy_backup_disk(monkeypatch):
    """The backup_disk check measures the real disk; the table must not depend on it."""
    from apps.backups import health as backup_health

    gib = backup_health.GIB
    usage = shutil._ntuple_diskusage(100 * gib, 50 * gib, 50 * gib)
    monkeypatch.setattr(backup_health.shutil, "disk_usage", lambda path: usage)


def test_doctor_prints_a_table_and_passes():
    out = StringIO()
    call_command("doctor", "--skip-workers", stdout=out)
    text = out.getvalue()
    for name in ("database", "cache", "broker", "migrations"):
        assert name in text
    assert "checks passed" in text


def test_doctor_runs_the_checks_kept_out_of_health():
    out = StringIO()
    # Whether every check passes is the test above's business; here: the rows.
    with contextlib.suppress(CommandError):
        call_command("doctor", "--skip-workers", stdout=out)
    rows = {line.split()[0]: line.split()[1] for line in out.getvalue().splitlines()[1:-1]}
    # Beat never ran here; the test settings are no deployment (no HSTS, no TLS redirect).
    assert rows["beat"] == "WARN"
    assert rows["backup_disk"] == "OK"
    assert rows["deploy_checks"] == "WARN"
    assert rows["tls_settings"] == "WARN"
    health_checks = {check.name for check in health.registered_checks(include_doctor_only=False)}
    assert not {"beat", "backup_disk", "deploy_checks", "tls_settings"} & health_checks


def test_doctor_fails_when_no_worker_answers():
    out = StringIO()
    with pytest.raises(CommandError, match="workers"):
        call_command("doctor", "--worker-timeout", "0.5", stdout=out)
    assert "no worker finished a ping job" in out.getvalue()


def test_doctor_fails_on_a_failed_check(monkeypatch):
    def broken_set(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(health.cache, "set", broken_set)
    with pytest.raises(CommandError, match="cache"):
        call_command("doctor", "--skip-workers", stdout=StringIO())
