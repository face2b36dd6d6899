"""``/health`` and ``doctor``: a backup older than 26 hours is a warning, not a failure.
``doctor`` also measures the free space where the backups are written."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from commandcenter.health import FAIL, OK, WARN, CheckResult, register

MAX_AGE = timedelta(hours=26)
GIB = 1024**3
WARN_FREE_RATIO = 0.10
WARN_FREE_BYTES = 1 * GIB
FAIL_FREE_RATIO = 0.02


@register("backups", needs_database=True)
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


def _measured_path(path: Path) -> Path:
    """``path`` or, before the first backup creates it, its nearest existing parent."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def disk_space_result(total: int, free: int, where: str) -> CheckResult:
    ratio = free / total if total else 0.0
    detail = f"{free / GIB:.1f} GiB free of {total / GIB:.1f} GiB ({ratio:.0%}) at {where}"
    if ratio < FAIL_FREE_RATIO:
        return CheckResult(FAIL, f"{detail}: under {FAIL_FREE_RATIO:.0%}, the next backup may not fit")
    if ratio < WARN_FREE_RATIO or free < WARN_FREE_BYTES:
        return CheckResult(WARN, f"{detail}: under {WARN_FREE_RATIO:.0%} or 1 GiB, free some space")
    return CheckResult(OK, detail)


@register("backup_disk", doctor_only=True)
def check_backup_disk() -> CheckResult:
    backup_dir = Path(settings.BACKUP_DIR)
    measured = _measured_path(backup_dir)
    usage = shutil.disk_usage(measured)
    where = str(backup_dir) if measured == backup_dir else f"{measured} (BACKUP_DIR {backup_dir} does not exist yet)"
    return disk_space_result(usage.total, usage.free, where)
