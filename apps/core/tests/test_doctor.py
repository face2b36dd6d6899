from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from commandcenter import health

pytestmark = pytest.mark.django_db


def test_doctor_prints_a_table_and_passes():
    out = StringIO()
    call_command("doctor", "--skip-workers", stdout=out)
    text = out.getvalue()
    for name in ("database", "cache", "broker", "migrations"):
        assert name in text
    assert "checks passed" in text


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
