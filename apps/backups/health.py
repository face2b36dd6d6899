"""``/health`` and ``doctor``: a backup older than 26 hours is a warning, not a failure."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from commandcenter.health import OK, WARN, CheckResult, register

MAX_AGE = timedelta(hours=26)


@register("backups")
def check_backups() -> CheckResult:
    from apps.backups.services import last_successful

    run = last_successful()
    if run is None:
        return CheckResult(WARN, "no successful backup yet (manage.py backup)")
    age = timezone.now() - (run.finished_at or run.started_at)
    hours = age.total_seconds() / 3600
    verified = f", verified {run.verified_at:%Y-%m-%d}" if run.verified_at else ", not verified yet"
    if age > MAX_AGE:
        return CheckResult(WARN, f"last successful backup {run.timestamp} is {hours:.0f} h old (over 26 h){verified}")
    return CheckResult(OK, f"last successful backup {run.timestamp}, {hours:.1f} h old{verified}")
