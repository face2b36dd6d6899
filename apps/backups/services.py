"""Backup sets: take, list, check, verify, restore and prune them.

A set is the files of one timestamp (``BACKUP_DIR/postgres/<ts>.dump.zst`` or ``.sqlite3``,
``rag/<ts>.tar.gz``, ``redis/<ts>.rdb``) plus ``manifests/<ts>.json``, written last: a set
without its manifest is incomplete and never offered for restore. Only one backup or restore
runs at a time (an ``flock`` on ``BACKUP_DIR/.lock``, freed by the kernel if its holder dies).
Every checksum is verified before a restore touches anything.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.backups.choices import COMPONENTS, RunStatus, Trigger, Verification
from apps.backups.engines.common import BackupError, ComponentResult
from apps.backups.files import atomic_file, sha256_file
from apps.backups.models import BackupRun
from commandcenter import metrics

log = structlog.get_logger(__name__)

TIMESTAMP_FORMAT = "%Y%m%d_%H%M%S"
# ASCII digits only, and nothing after (``$`` would let a trailing newline through).
TIMESTAMP_RE = re.compile(r"^[0-9]{8}_[0-9]{6}\Z")
Progress = Callable[[str], None]


class BackupBusy(BackupError):
    """Another backup or restore holds the lock."""


# --- layout -----------------------------------------------------------------------------------


def backup_dir() -> Path:
    return Path(settings.BACKUP_DIR)


def manifest_path(timestamp: str) -> Path:
    return backup_dir() / "manifests" / f"{timestamp}.json"


def database_engine() -> str:
    return "sqlite" if connection.vendor == "sqlite" else "postgresql"


def component_path(component: str, timestamp: str) -> Path:
    suffix = {
        "postgres": ".sqlite3" if database_engine() == "sqlite" else ".dump.zst",
        "rag": ".tar.gz",
        "redis": ".rdb",
    }[component]
    return backup_dir() / component / f"{timestamp}{suffix}"


def check_timestamp(value: str) -> str:
    """Refuse anything but ``YYYYMMDD_HHMMSS`` (a timestamp names files: no paths allowed)."""
    if not TIMESTAMP_RE.match(value):
        raise BackupError(f"invalid backup timestamp {value!r}: expected YYYYMMDD_HHMMSS")
    return value


def timestamp_datetime(timestamp: str) -> datetime:
    return datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def enabled_components() -> list[str]:
    """The components this installation has: Redis only when it is configured."""
    return [c for c in COMPONENTS if c != "redis" or settings.REDIS_URL]


# --- the lock ---------------------------------------------------------------------------------


@contextmanager
def exclusive(what: str) -> Iterator[None]:
    directory = backup_dir()
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupBusy(f"cannot {what}: another backup or restore is running") from None
        yield
    finally:
        os.close(fd)


# --- engines ----------------------------------------------------------------------------------


def _dump(component: str, target: Path, progress: Progress | None) -> ComponentResult:
    if component == "postgres":
        if database_engine() == "sqlite":
            from apps.backups.engines import sqlite

            return sqlite.dump(connection.settings_dict, target, progress=progress)
        from apps.backups.engines import postgres

        return postgres.dump(connection.settings_dict, target, progress=progress)
    if component == "rag":
        from apps.backups.engines import rag

        return rag.dump(target, media_root=Path(settings.MEDIA_ROOT), progress=progress)
    from apps.backups.engines import redis

    return redis.dump(settings.REDIS_URL, target, progress=progress)


# --- taking a backup --------------------------------------------------------------------------


@dataclass(frozen=True)
class SetInfo:
    timestamp: str
    complete: bool
    manifest: dict[str, Any] | None
    files: list[Path]

    @property
    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files if p.exists())


def new_timestamp() -> str:
    stamp = timezone.now().astimezone(UTC)
    while True:
        value = stamp.strftime(TIMESTAMP_FORMAT)
        if not manifest_path(value).exists() and not BackupRun.objects.filter(timestamp=value).exists():
            return value
        stamp += timedelta(seconds=1)


def app_versions() -> dict[str, str]:
    return {"app": settings.APP_VERSION, "environment": settings.ENVIRONMENT}


def run_backup(
    *, trigger: str = Trigger.MANUAL, components: list[str] | None = None, progress: Progress | None = None
) -> BackupRun:
    """Take one complete set, or none: on any failure the set's files are removed."""
    wanted = components or enabled_components()
    with exclusive("start a backup"):
        return _run_backup_locked(trigger, wanted, progress)


def clean_interrupted() -> int:
    """Under the lock, whatever a run left is from a run that died (a killed worker, a power
    cut): its temporary files go and its row is marked failed. Returns how many runs."""
    for component in COMPONENTS:
        folder = backup_dir() / component
        if folder.is_dir():
            for leftover in folder.glob(".*.tmp-*"):
                leftover.unlink(missing_ok=True)
    for leftover in (backup_dir() / "manifests").glob(".*.tmp-*") if (backup_dir() / "manifests").is_dir() else []:
        leftover.unlink(missing_ok=True)
    return BackupRun.objects.filter(status=RunStatus.RUNNING).update(
        status=RunStatus.FAILED, error="interrupted: the process running it died", finished_at=timezone.now()
    )


def failure_reason(exc: BaseException) -> str:
    """What went wrong, for the run's error; a full disk says which folder it holds."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return (
            f"disk full ({exc.strerror or 'No space left on device'}) on the file system holding BACKUP_DIR "
            f"({backup_dir()}); the partial files were removed. Free some space or move BACKUP_DIR"
        )
    return f"{type(exc).__name__}: {exc}"


def _run_backup_locked(trigger: str, wanted: list[str], progress: Progress | None) -> BackupRun:
    interrupted = clean_interrupted()
    if interrupted:
        log.warning("backup_interrupted_runs_cleaned", count=interrupted)
    timestamp = new_timestamp()
    run = BackupRun.objects.create(timestamp=timestamp, trigger=trigger, components=wanted)
    started = time.monotonic()
    written: list[Path] = []
    results: dict[str, Any] = {}
    component = ""
    log.info("backup_started", timestamp=timestamp, trigger=trigger, components=wanted)
    try:
        for component in wanted:
            target = component_path(component, timestamp)
            if progress:
                progress(f"{component}: writing {target.relative_to(backup_dir())}")
            component_started = time.monotonic()
            result = _dump(component, target, progress)
            written.extend(f.path for f in result.files)
            elapsed = time.monotonic() - component_started
            size = sum(f.size for f in result.files)
            metrics.backup_duration.labels(component=component).observe(elapsed)
            metrics.backup_size.labels(component=component).set(size)
            results[component] = {
                "files": [
                    {"path": str(f.path.relative_to(backup_dir())), "size": f.size, "sha256": f.sha256}
                    for f in result.files
                ],
                "duration": round(elapsed, 3),
                **result.details,
            }
        manifest = {
            "format": 1,
            "timestamp": timestamp,
            "created_at": timezone.now().isoformat(),
            "trigger": trigger,
            "database_engine": database_engine(),
            "components": results,
            "versions": app_versions(),
            "duration": round(time.monotonic() - started, 3),
        }
        with atomic_file(manifest_path(timestamp)) as out:
            out.write(json.dumps(manifest, indent=2, sort_keys=True).encode())
    except BaseException as exc:
        for path in written:
            path.unlink(missing_ok=True)
        failed = component or "backup"
        metrics.backup_failures.labels(component=failed).inc()
        run.status = RunStatus.FAILED
        run.error = f"{failed}: {failure_reason(exc)}"[:4000]
        run.finished_at = timezone.now()
        run.duration = time.monotonic() - started
        run.save()
        log.error("backup_failed", timestamp=timestamp, component=failed, error=run.error)
        raise
    now = time.time()
    for name in results:
        metrics.backup_last_success.labels(component=name).set(now)
    run.status = RunStatus.SUCCEEDED
    run.manifest = manifest
    run.size_bytes = sum(f["size"] for c in results.values() for f in c["files"])
    run.finished_at = timezone.now()
    run.duration = time.monotonic() - started
    run.save()
    log.info("backup_completed", timestamp=timestamp, size_bytes=run.size_bytes, duration=round(run.duration, 3))
    return run


# --- listing and checking ---------------------------------------------------------------------


def read_manifest(timestamp: str) -> dict[str, Any]:
    path = manifest_path(check_timestamp(timestamp))
    if not path.exists():
        raise BackupError(f"backup {timestamp} is incomplete or missing: no manifest at {path}")
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"backup {timestamp}: unreadable manifest ({exc})") from exc
    return data


def list_sets() -> list[SetInfo]:
    """Every set on disk, newest first; sets without a manifest are listed as incomplete."""
    found: dict[str, list[Path]] = {}
    for component in COMPONENTS:
        folder = backup_dir() / component
        if folder.is_dir():
            for path in folder.iterdir():
                stamp = path.name.split(".", 1)[0]
                if TIMESTAMP_RE.match(stamp):
                    found.setdefault(stamp, []).append(path)
    manifests = backup_dir() / "manifests"
    if manifests.is_dir():
        for path in manifests.glob("*.json"):
            found.setdefault(path.stem, [])
    sets = []
    for stamp in sorted(found, reverse=True):
        manifest = None
        if manifest_path(stamp).exists():
            try:
                manifest = read_manifest(stamp)
            except BackupError:
                manifest = None
        sets.append(SetInfo(stamp, manifest is not None, manifest, sorted(found[stamp])))
    return sets


def latest_complete() -> str:
    for info in list_sets():
        if info.complete:
            return info.timestamp
    raise BackupError(f"no complete backup set in {backup_dir()}")


def check_set(timestamp: str, components: list[str] | None = None) -> dict[str, Any]:
    """Every file of the set (or of ``components``) exists with its size and SHA-256."""
    manifest = read_manifest(timestamp)
    chosen = components or list(manifest["components"])
    missing = [c for c in chosen if c not in manifest["components"]]
    if missing:
        raise BackupError(f"backup {timestamp} has no {', '.join(missing)} component")
    for component in chosen:
        for entry in manifest["components"][component]["files"]:
            path = backup_dir() / entry["path"]
            if not path.exists():
                raise BackupError(f"backup {timestamp}: {entry['path']} is missing")
            size = path.stat().st_size
            if size != entry["size"]:
                raise BackupError(
                    f"backup {timestamp}: {entry['path']} is {size} bytes, the manifest says {entry['size']}"
                )
            if sha256_file(path) != entry["sha256"]:
                raise BackupError(f"backup {timestamp}: {entry['path']} does not match its SHA-256 (corrupted)")
    return manifest


# --- verification (restore drill) -------------------------------------------------------------


def verify(timestamp: str | None = None, *, progress: Progress | None = None) -> dict[str, Any]:
    """The restore drill of a set (default: the latest complete one), one at a time with
    backups and restores (it holds the same lock)."""
    with exclusive("verify a backup"):
        return _verify_locked(timestamp, progress)


def _verify_locked(timestamp: str | None, progress: Progress | None) -> dict[str, Any]:
    stamp = check_timestamp(timestamp) if timestamp else latest_complete()
    report: dict[str, Any] = {"timestamp": stamp, "ok": False, "components": {}}
    run = BackupRun.objects.filter(timestamp=stamp).first()
    try:
        manifest = check_set(stamp)
        report["checksums"] = "ok"
        for component, entry in manifest["components"].items():
            source = backup_dir() / entry["files"][0]["path"]
            if progress:
                progress(f"{component}: restore drill of {source.name}")
            report["components"][component] = _verify_component(component, manifest, entry, source, progress)
        report["ok"] = all(c.get("ok", False) for c in report["components"].values())
    except BackupError as exc:
        report["error"] = str(exc)
    if report["ok"]:
        metrics.backup_last_verified.set(time.time())
    else:
        metrics.backup_verify_failures.inc()
    if run is not None:
        run.verification = Verification.PASSED if report["ok"] else Verification.FAILED
        run.verified_at = timezone.now()
        run.verification_report = report
        run.save(update_fields=["verification", "verified_at", "verification_report"])
    log.info("backup_verified", timestamp=stamp, ok=report["ok"], error=report.get("error"))
    return report


def _verify_component(
    component: str, manifest: dict[str, Any], entry: dict[str, Any], source: Path, progress: Progress | None
) -> dict[str, Any]:
    if component == "postgres":
        expected = entry.get("row_counts", {})
        if manifest.get("database_engine") == "sqlite":
            from apps.backups.engines import sqlite

            return dict(sqlite.verify(connection.settings_dict, source, expected))
        from apps.backups.engines import postgres

        postgres.drop_stale_scratch_databases(connection.settings_dict)
        return dict(postgres.verify(connection.settings_dict, source, expected, progress=progress))
    if component == "rag":
        from apps.backups.engines import rag

        return dict(rag.verify(source))
    from apps.backups.engines import redis

    result = dict(redis.verify(source))
    result.setdefault("ok", True)
    return result


# --- restore ----------------------------------------------------------------------------------


def restore(
    timestamp: str | None = None,
    *,
    only: list[str] | None = None,
    safety_backup: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Restore a set (default: the latest complete one). Checksums are verified first; the
    current state is backed up first (unless ``safety_backup`` is false)."""
    stamp = check_timestamp(timestamp) if timestamp else latest_complete()
    if not manifest_path(stamp).exists():
        with exclusive("download an off-site backup"):
            if fetch_offsite(stamp) and progress:
                progress(f"downloaded {stamp} from the off-site copy")
    unknown = sorted(set(only or []) - set(COMPONENTS))
    if unknown:
        raise BackupError(f"unknown component(s) {', '.join(unknown)}: choose from {', '.join(COMPONENTS)}")
    manifest = check_set(stamp, only)
    chosen = only or list(manifest["components"])
    if "postgres" in chosen and manifest.get("database_engine", "postgresql") != database_engine():
        raise BackupError(
            f"backup {stamp} holds a {manifest['database_engine']} database; this installation runs {database_engine()}"
        )
    if "redis" in chosen and not settings.REDIS_URL:
        raise BackupError("cannot restore redis: REDIS_URL is not set")
    report: dict[str, Any] = {"timestamp": stamp, "restored": {}}
    with exclusive("restore"):
        if safety_backup:
            if progress:
                progress("safety backup of the current state")
            safety = _run_backup_locked(Trigger.SAFETY, enabled_components(), progress)
            report["safety_backup"] = safety.timestamp
        for component in chosen:
            entry = manifest["components"][component]
            source = backup_dir() / entry["files"][0]["path"]
            if progress:
                progress(f"{component}: restoring {source.name}")
            report["restored"][component] = _restore_component(component, entry, source, progress)
        if "postgres" in chosen:
            report["runs_reconciled"] = reconcile_runs()
    log.info("backup_restored", timestamp=stamp, components=chosen, safety_backup=report.get("safety_backup"))
    return report


def reconcile_runs() -> int:
    """After a database restore the run history is the one of the dump's moment (the run
    that made it still shows ``running``, later runs are gone): bring it in line with the
    sets on disk, which are the truth. Returns how many rows were fixed or added."""
    changed = 0
    for info in list_sets():
        if not info.complete or info.manifest is None:
            continue
        manifest = info.manifest
        fields = {
            "status": RunStatus.SUCCEEDED,
            "manifest": manifest,
            "components": list(manifest["components"]),
            "size_bytes": sum(f["size"] for c in manifest["components"].values() for f in c["files"]),
            "duration": manifest.get("duration"),
            "error": "",
        }
        updated = (
            BackupRun.objects.filter(timestamp=info.timestamp).exclude(status=RunStatus.SUCCEEDED).update(**fields)
        )
        if not updated and not BackupRun.objects.filter(timestamp=info.timestamp).exists():
            BackupRun.objects.create(
                timestamp=info.timestamp,
                trigger=manifest.get("trigger", Trigger.MANUAL),
                finished_at=timestamp_datetime(info.timestamp),
                **fields,
            )
            updated = 1
        changed += updated
    return changed


def _restore_component(component: str, entry: dict[str, Any], source: Path, progress: Progress | None) -> Any:
    if component == "postgres":
        if database_engine() == "sqlite":
            from apps.backups.engines import sqlite

            return sqlite.restore(connection.settings_dict, source)
        from apps.backups.engines import postgres

        return postgres.restore(
            connection.settings_dict, source, lock_timeout=settings.BACKUP_RESTORE_LOCK_TIMEOUT, progress=progress
        )
    if component == "rag":
        from apps.backups.engines import rag

        return rag.restore(source, media_root=Path(settings.MEDIA_ROOT), progress=progress)
    from apps.backups.engines import redis

    return redis.restore(settings.REDIS_URL, source, progress=progress)


# --- off-site copy ---------------------------------------------------------------------------


def copy_offsite(timestamp: str) -> dict[str, Any] | None:
    """Upload a complete set to the S3-compatible bucket (when BACKUP_S3_BUCKET is set), each
    object checked after upload. A failure leaves the local set as it is, is logged and counted
    (``commandcenter_backup_failures_total{component="offsite"}``), and is raised."""
    from apps.backups import offsite

    config = offsite.config_from_settings()
    if not config.enabled:
        return None
    try:
        result = offsite.upload_set(config, timestamp, backup_dir())
    except BackupError as exc:
        metrics.backup_failures.labels(component="offsite").inc()
        BackupRun.objects.filter(timestamp=timestamp).update(offsite="failed", offsite_error=str(exc)[:2000])
        log.error("backup_offsite_failed", timestamp=timestamp, error=str(exc))
        raise
    BackupRun.objects.filter(timestamp=timestamp).update(offsite="uploaded", offsite_error="")
    log.info("backup_offsite_uploaded", timestamp=timestamp, where=config.where(), **result)
    return dict(result)


def fetch_offsite(timestamp: str) -> bool:
    """Download a set that is not on this machine from the bucket; False when off-site is off
    or the bucket does not have it either."""
    from apps.backups import offsite

    config = offsite.config_from_settings()
    if not config.enabled or manifest_path(timestamp).exists():
        return False
    if timestamp not in offsite.list_remote_sets(config):
        return False
    offsite.download_set(config, timestamp, backup_dir())
    log.info("backup_offsite_downloaded", timestamp=timestamp, where=config.where())
    return True


def prune_offsite(*, now: datetime | None = None, dry_run: bool = False) -> list[str]:
    """Remote retention by the same rule as local: older than RETENTION_DAYS goes, the newest
    remote set always stays (losing the local disk never empties the bucket)."""
    from apps.backups import offsite

    config = offsite.config_from_settings()
    if not config.enabled:
        return []
    remote = offsite.list_remote_sets(config)
    if not remote:
        return []
    cutoff = (now or timezone.now()) - timedelta(days=settings.RETENTION_DAYS)
    keep = {remote[0]} | {stamp for stamp in remote if timestamp_datetime(stamp) >= cutoff}
    doomed = [stamp for stamp in remote if stamp not in keep]
    if dry_run or not doomed:
        return doomed
    offsite.prune_remote(config, keep)
    return doomed


# --- retention --------------------------------------------------------------------------------


def prune(*, dry_run: bool = False, now: datetime | None = None) -> list[str]:
    """Remove sets older than RETENTION_DAYS, never the newest complete set. Incomplete sets
    older than a day (left by a crash) go too. Returns the removed timestamps."""
    current = now or timezone.now()
    cutoff = current - timedelta(days=settings.RETENTION_DAYS)
    sets = list_sets()
    newest_complete = next((s.timestamp for s in sets if s.complete), None)
    doomed = []
    for info in sets:
        if info.timestamp == newest_complete:
            continue
        taken = timestamp_datetime(info.timestamp)
        if (info.complete and taken < cutoff) or (not info.complete and taken < current - timedelta(days=1)):
            doomed.append(info)
    if not dry_run:
        for info in doomed:
            manifest_path(info.timestamp).unlink(missing_ok=True)  # first: the set stops being complete
            for path in info.files:
                path.unlink(missing_ok=True)
            BackupRun.objects.filter(timestamp=info.timestamp).delete()
    removed = [info.timestamp for info in doomed]
    log.info("backups_pruned", removed=removed, dry_run=dry_run, retention_days=settings.RETENTION_DAYS)
    return removed


def last_successful() -> BackupRun | None:
    return BackupRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-timestamp").first()
