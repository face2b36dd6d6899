"""SQLite backups (the embedded default) with SQLite's online backup API.

The backup API copies the database page by page inside one read transaction, so the copy is a
consistent snapshot even while the web server and the worker keep writing (WAL), and memory
stays flat (pages go through the page cache, straight into the destination file).

- ``dump`` copies into the temporary file of :func:`~apps.backups.files.atomic_path`, switches
  the copy to ``journal_mode=DELETE`` (a single self-contained file, no ``-wal``/``-shm`` next to
  it) and counts its rows: the counts describe exactly the file that is kept.
- ``restore`` checks the archive first, then copies it back with the backup API *into* the live
  database: its pages are replaced in one write transaction that every other connection sees
  (WAL is kept), instead of renaming a file under processes that hold it open.
- ``verify`` restores into a temporary copy, checks its integrity and compares the counts.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from apps.backups.engines.common import BackupError, ComponentResult
from apps.backups.files import atomic_path, describe

log = structlog.get_logger(__name__)

Progress = Callable[[str], None] | None

DEFAULT_LOCK_TIMEOUT = 30.0
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def database_path(db: dict[str, Any]) -> Path:
    """The file of a Django SQLite ``DATABASES`` entry; in-memory databases cannot be backed up."""
    name = str(db.get("NAME") or "")
    if not name or name == ":memory:" or "mode=memory" in name or name.startswith("file:"):
        raise BackupError(f"SQLite database {name!r} is not a plain file: nothing to back up or restore")
    return Path(name)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """``{"main.table": rows}`` for every table except SQLite's own (``sqlite_*``)."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "ORDER BY name"
        )
    ]
    counts = {}
    for table in tables:
        # The names come from sqlite_master, never from input, and are quoted as identifiers.
        query = f"SELECT count(*) FROM {_quote(table)}"  # noqa: S608  # nosec B608
        counts[f"main.{table}"] = int(conn.execute(query).fetchone()[0])
    return counts


def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> dict[str, dict[str, int | None]]:
    return {
        table: {"expected": expected.get(table), "actual": actual.get(table)}
        for table in sorted(expected.keys() | actual.keys())
        if expected.get(table) != actual.get(table)
    }


def _open_read_only(path: Path, *, timeout: float = DEFAULT_LOCK_TIMEOUT) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)


def _give_up_after(seconds: float, what: str) -> Callable[[int, int, int], None]:
    """A backup() progress callback that aborts once the lock has been refused for ``seconds``
    (Python's backup() otherwise retries a busy database forever)."""
    deadline = time.monotonic() + seconds

    def check(status: int, remaining: int, total: int) -> None:
        if status in _BUSY_CODES and time.monotonic() >= deadline:
            raise BackupError(f"{what}: the database stayed locked for more than {seconds:g} s")

    return check


def check_archive(source: Path) -> None:
    """Raise :class:`BackupError` unless ``source`` is a readable, intact SQLite database."""
    if not source.is_file():
        raise BackupError(f"no SQLite backup at {source}")
    try:
        conn = _open_read_only(source)
        try:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{source} is not a readable SQLite database: {exc}") from exc
    if problems != ["ok"]:
        raise BackupError(f"{source} is damaged: {'; '.join(problems[:5])}")


def dump(
    db: dict[str, Any],
    target: Path,
    *,
    progress: Progress = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> ComponentResult:
    """Copy the live database to ``target`` (atomically) and count the copy's rows."""
    path = database_path(db)
    if not path.is_file():
        raise BackupError(f"SQLite database {path} does not exist")
    log.info("sqlite_dump_started", database=str(path), target=str(target))
    if progress is not None:
        progress(f"copying {path.name}")
    try:
        with atomic_path(target) as temporary:
            source = sqlite3.connect(path, timeout=lock_timeout)
            try:
                copy = sqlite3.connect(temporary)
                try:
                    # pages=-1: every page in one step, i.e. in one read transaction (a snapshot).
                    source.backup(copy, pages=-1, progress=_give_up_after(lock_timeout, "SQLite backup"))
                    copy.execute("PRAGMA journal_mode=DELETE")
                    counts = row_counts(copy)
                finally:
                    copy.close()
            finally:
                source.close()
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup of {path} failed: {exc}") from exc
    except OSError as exc:
        raise BackupError(f"writing {target} failed: {exc}") from exc
    written = describe(target)
    log.info("sqlite_dump_completed", database=str(path), size_bytes=written.size, tables=len(counts))
    return ComponentResult(
        files=[written],
        details={"engine": "sqlite", "sqlite_version": sqlite3.sqlite_version, "row_counts": counts},
    )


def restore(
    db: dict[str, Any],
    source: Path,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    progress: Progress = None,
) -> dict[str, int]:
    """Replace the live database's content with ``source`` and return the restored row counts.

    The archive is checked before anything is touched; the copy is one write transaction, so a
    failure leaves the live database as it was. A writer holding the database longer than
    ``lock_timeout`` seconds fails the restore. Closes Django's connections of the calling
    thread first (``django.db.connections.close_all()``).
    """
    from django.db import connections

    path = database_path(db)
    check_archive(source)
    connections.close_all()
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("sqlite_restore_started", database=str(path), source=str(source))
    if progress is not None:
        progress(f"restoring {path.name}")
    try:
        archive = _open_read_only(source)
        try:
            live = sqlite3.connect(path, timeout=lock_timeout)
            try:
                archive.backup(live, pages=-1, progress=_give_up_after(lock_timeout, "SQLite restore"))
                counts = row_counts(live)
            finally:
                live.close()
        finally:
            archive.close()
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite restore into {path} failed (database unchanged): {exc}") from exc
    log.info("sqlite_restore_completed", database=str(path), tables=len(counts))
    return counts


def verify(
    db: dict[str, Any],
    source: Path,
    expected_counts: dict[str, int],
    *,
    progress: Progress = None,
) -> dict[str, Any]:
    """Restore drill: copy ``source`` into a temporary database, check its integrity and compare
    its row counts with ``expected_counts``. Returns ``{"ok", "mismatches", "row_counts"}``; an
    unreadable or damaged archive raises :class:`BackupError`."""
    check_archive(source)
    if progress is not None:
        progress(f"verifying {source.name}")
    with tempfile.TemporaryDirectory(prefix="cc-verify-") as scratch_dir:
        try:
            archive = _open_read_only(source)
            try:
                scratch = sqlite3.connect(Path(scratch_dir) / "verify.sqlite3")
                try:
                    archive.backup(scratch, pages=-1)
                    problems = [row[0] for row in scratch.execute("PRAGMA integrity_check")]
                    if problems != ["ok"]:
                        raise BackupError(f"{source} is damaged: {'; '.join(problems[:5])}")
                    counts = row_counts(scratch)
                finally:
                    scratch.close()
            finally:
                archive.close()
        except sqlite3.Error as exc:
            raise BackupError(f"restoring {source} into a scratch database failed: {exc}") from exc
    mismatches = compare_counts(expected_counts, counts)
    log.info("sqlite_verify_completed", ok=not mismatches, mismatches=len(mismatches))
    return {"ok": not mismatches, "mismatches": mismatches, "row_counts": counts}
