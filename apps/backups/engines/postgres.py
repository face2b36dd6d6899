"""PostgreSQL backups: pg_dump in an exported snapshot, pg_restore in one transaction.

Every function takes a Django ``DATABASES`` entry (``connection.settings_dict``) and opens its
own psycopg connections, never Django's, so nothing here runs inside a caller's transaction.

Decisions:

- ``dump`` counts the rows of every user table in a ``REPEATABLE READ, READ ONLY`` transaction
  that exports its snapshot, and pg_dump reads that same snapshot (``--snapshot``): on a live
  database the manifest's counts and the dump agree exactly. The exporting transaction stays
  open until pg_dump exits.
- The archive keeps owners and privileges (no ``--no-owner`` at dump time): the custom format
  lets every choice be made at restore time. ``restore`` and ``verify`` pass ``--no-owner`` so the
  restored objects belong to the restoring role (the application's user, which must own the
  tables to run later migrations), whatever role owned them on the dumped server.
- ``restore`` never drops or creates the database it is connected to: ``pg_restore --clean
  --if-exists --single-transaction --exit-on-error`` drops and re-creates the objects of the
  archive in one transaction, so a failure (bad archive, lock not granted) leaves the database
  as it was. A ``lock_timeout`` makes it fail instead of waiting forever behind an open
  transaction. It cannot be given to pg_restore through ``PGOPTIONS``: every archive begins
  with ``SET lock_timeout = 0``, so a watchdog session cancels a statement of pg_restore that
  waits longer than that for a lock. Objects that are not in the archive (tables of later
  migrations) are left alone.
- ``verify`` restores into a scratch database created from the maintenance database and always
  drops it afterwards.
- The archive is pg_dump's custom format compressed with zstd in this process, in parallel
  (``<ts>.dump.zst``; :mod:`apps.backups.engines.pgtools` says how it streams). Uncompressed
  ``.dump`` archives (sets of earlier versions, or made by hand) are restored from the file.
  By hand: ``zstd -dc <ts>.dump.zst | pg_restore --single-transaction --dbname=...``.
- Children (pg_dump, pg_restore) run through :mod:`apps.backups.processes`, so they die with the
  process that started them; the password travels in ``PGPASSWORD``, never on a command line.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg
import structlog
from psycopg import pq, sql
from psycopg.conninfo import make_conninfo

from apps.backups.engines import pgtools
from apps.backups.engines.common import BackupError, ComponentResult
from apps.backups.engines.pgtools import ZSTD_LEVEL, find_tool, tool_version

log = structlog.get_logger(__name__)

Progress = Callable[[str], None] | None

MAINTENANCE_DATABASE = "postgres"
DEFAULT_DUMP_LOCK_TIMEOUT = "2min"
# A PostgreSQL interval without spaces ("30s", "500ms", "2min"): it goes into a libpq
# ``options`` value, where a space would start a new server option.
_TIMEOUT = re.compile(r"^(\d+)(us|ms|s|min|h|d)?$")
_TIMEOUT_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_LIBPQ_KEYWORDS = frozenset(option.keyword.decode() for option in pq.Conninfo.get_defaults())
# Never on a command line (``ps`` shows it): passed in the environment instead.
_SECRET_KEYWORDS = frozenset({"password"})
_DUMPING = re.compile(r'dumping contents of table "?([^"]+)"?')
_RESTORING = re.compile(r'processing data for table "?([^"]+)"?')

_TABLES = """
SELECT n.nspname, c.relname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%'
  AND n.nspname NOT LIKE 'pg\\_temp\\_%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY n.nspname, c.relname
"""


# --- connections and tools ------------------------------------------------------------------


def connection_params(db: dict[str, Any], *, dbname: str | None = None) -> dict[str, str]:
    """libpq keywords for ``db`` (without the password): NAME/HOST/PORT/USER plus every
    ``OPTIONS`` entry libpq knows (sslmode, sslrootcert, service, options...); Django-only
    options (isolation_level, pool, server_side_binding...) are left out."""
    params: dict[str, str] = {}
    for key, value in (db.get("OPTIONS") or {}).items():
        if key in _LIBPQ_KEYWORDS and key not in _SECRET_KEYWORDS and value not in (None, ""):
            params[key] = str(value)
    for keyword, setting in (("host", "HOST"), ("port", "PORT"), ("user", "USER")):
        if db.get(setting):
            params[keyword] = str(db[setting])
    name = dbname or db.get("NAME")
    if name:
        params["dbname"] = str(name)
    params.setdefault("connect_timeout", "10")
    params.setdefault("application_name", "commandcenter-backup")
    return params


@contextmanager
def _connect(db: dict[str, Any], params: dict[str, str]) -> Iterator[psycopg.Connection[Any]]:
    password = db.get("PASSWORD") or (db.get("OPTIONS") or {}).get("password")
    conninfo = make_conninfo("", **params, **({"password": str(password)} if password else {}))
    try:
        conn = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as exc:
        raise BackupError(f"cannot connect to PostgreSQL database {params.get('dbname')!r}: {exc}") from exc
    try:
        yield conn
    finally:
        conn.close()


def _major(version: str) -> int:
    return int(version.split(".")[0])


def _server_major(conn: psycopg.Connection[Any]) -> int:
    return conn.info.server_version // 10000  # 150020 -> 15, 90624 -> 9


def timeout_seconds(value: str) -> float:
    """Seconds in a PostgreSQL interval such as ``"30s"`` (no unit: milliseconds, like
    ``lock_timeout``); zero is refused, since it means waiting forever."""
    match = _TIMEOUT.match(value)
    if match is None or int(match.group(1)) == 0:
        raise BackupError(f"invalid lock timeout {value!r}: use a positive value such as '30s', '500ms' or '2min'")
    return int(match.group(1)) * _TIMEOUT_UNITS[match.group(2) or "ms"]


class _LockWatchdog:
    """Cancels pg_restore's statement once it has waited ``lock_timeout`` for a lock.

    pg_restore opens every restore with ``SET lock_timeout = 0`` (the archive's fixed preamble),
    overriding a lock_timeout from ``PGOPTIONS`` or the connection options, so the limit is
    enforced from outside: this session watches pg_restore's backend (found by its unique
    ``application_name``) and cancels the waiting statement; with ``--exit-on-error
    --single-transaction`` everything is rolled back and pg_restore exits non-zero.
    """

    def __init__(self, db: dict[str, Any], application_name: str, lock_timeout: str) -> None:
        self.reason: str | None = None
        self._name = application_name
        self._limit = lock_timeout
        self._seconds = timeout_seconds(lock_timeout)
        self._stop = threading.Event()
        # Connected before pg_restore starts: a watchdog that cannot connect fails the restore
        # up front rather than leaving it unwatched.
        self._session = _connect(db, connection_params(db) | {"application_name": "commandcenter-backup-watchdog"})
        self._conn = self._session.__enter__()
        self._thread = threading.Thread(target=self._watch, name="pg-restore-lock-watchdog", daemon=True)

    def __enter__(self) -> _LockWatchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._session.__exit__(None, None, None)

    def _watch(self) -> None:
        interval = min(0.25, self._seconds / 4)
        waiting_since: dict[tuple[Any, ...], float] = {}
        try:
            while not self._stop.wait(interval):
                rows = self._conn.execute(
                    "SELECT pid, query_start, pg_blocking_pids(pid), left(query, 200) FROM pg_stat_activity "
                    "WHERE application_name = %s AND wait_event_type = 'Lock'",
                    [self._name],
                ).fetchall()
                now = time.monotonic()
                # A new statement (new query_start) restarts the clock.
                current = {(pid, started) for pid, started, _, _ in rows}
                waiting_since = {key: since for key, since in waiting_since.items() if key in current}
                for pid, started, blockers, query in rows:
                    if now - waiting_since.setdefault((pid, started), now) >= self._seconds:
                        self.reason = (
                            f"lock timeout: pg_restore waited more than {self._limit} for a lock held by "
                            f"process {', '.join(map(str, blockers)) or '?'} (statement: {' '.join(query.split())})"
                        )
                        self._conn.execute("SELECT pg_cancel_backend(%s)", [pid])
                        return
        except psycopg.Error as exc:
            log.error("postgres_restore_watchdog_failed", error=str(exc))


# --- row counts -----------------------------------------------------------------------------


def row_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """``{"schema.table": rows}`` for every table of the user schemas (tables owned by an
    extension excluded: pg_dump does not dump their rows), counted in ``conn``'s current
    transaction, so in its snapshot when that is REPEATABLE READ."""
    counts: dict[str, int] = {}
    tables = conn.execute(_TABLES).fetchall()
    for schema, table in tables:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))).fetchone()
        counts[f"{schema}.{table}"] = int(row[0]) if row else 0
    return counts


def _consistent_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    try:
        return row_counts(conn)
    finally:
        conn.execute("ROLLBACK")


def _rollback_quietly(conn: psycopg.Connection[Any]) -> None:
    with suppress(psycopg.Error):
        conn.execute("ROLLBACK")


# --- dump -----------------------------------------------------------------------------------


def dump(
    db: dict[str, Any],
    target: Path,
    *,
    progress: Progress = None,
    lock_timeout: str = DEFAULT_DUMP_LOCK_TIMEOUT,
) -> ComponentResult:
    """Dump ``db`` to ``target`` (custom format, zstd-compressed: name it ``*.dump.zst``) with
    row counts taken in the dump's snapshot.

    ``target`` appears only complete (written under a temporary name, fsynced, renamed); on any
    failure no file is left and :class:`BackupError` says why. ``lock_timeout`` bounds the wait
    for the tables' share locks (a migration holding them fails the backup, never hangs it).
    """
    pg_dump = find_tool("pg_dump")
    dump_version = tool_version(pg_dump)
    timeout_seconds(lock_timeout)
    params = connection_params(db)
    name = params.get("dbname", "")
    log.info("postgres_dump_started", database=name, target=str(target))
    with _connect(db, params) as conn:
        server_major = _server_major(conn)
        if _major(dump_version) < server_major:
            raise BackupError(
                f"pg_dump {dump_version} cannot dump a PostgreSQL {server_major} server: "
                f"install the client tools of version {server_major} or newer"
            )
        server_version = conn.info.parameter_status("server_version") or str(conn.info.server_version)
        try:
            # Idle while pg_dump runs: a server-wide idle timeout must not end the snapshot.
            conn.execute("SET idle_in_transaction_session_timeout = 0")
            conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(lock_timeout)))
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            row = conn.execute("SELECT pg_export_snapshot()").fetchone()
            assert row is not None
            snapshot = str(row[0])
            counts = row_counts(conn)
        except psycopg.Error as exc:
            raise BackupError(f"counting rows of {name!r} failed: {exc}") from exc
        stderr = pgtools.ToolOutput(progress, _DUMPING, "dumping")
        command = [
            pg_dump,
            "--format=custom",
            "--compress=0",  # compressed by zstd in this process, in parallel
            f"--snapshot={snapshot}",
            f"--lock-wait-timeout={lock_timeout}",
            "--verbose",
            "--no-password",
            f"--dbname={make_conninfo('', **params)}",
        ]
        try:
            written = pgtools.dump_compressed(command, db, stderr, target)
        except OSError as exc:
            raise BackupError(f"writing {target} failed: {exc}") from exc
        finally:
            _rollback_quietly(conn)
    log.info("postgres_dump_completed", database=name, size_bytes=written.size, tables=len(counts))
    return ComponentResult(
        files=[written],
        details={
            "engine": "postgresql",
            "database": name,
            "server_version": server_version,
            "pg_dump_version": dump_version,
            "format": "custom",
            "compression": f"zstd-{ZSTD_LEVEL}",
            "row_counts": counts,
        },
    )


# --- restore --------------------------------------------------------------------------------


def _restore_command(pg_restore: str, params: dict[str, str], *, clean: bool) -> list[str]:
    command = [pg_restore, "--single-transaction", "--exit-on-error", "--no-owner", "--verbose", "--no-password"]
    if clean:
        command += ["--clean", "--if-exists"]
    return [*command, f"--dbname={make_conninfo('', **params)}"]


def restore(
    db: dict[str, Any],
    source: Path,
    *,
    lock_timeout: str = "30s",
    progress: Progress = None,
) -> dict[str, int]:
    """Restore the archive ``source`` into ``db`` in place and return its row counts.

    Drops and re-creates the archive's objects in ONE transaction (``--clean --if-exists
    --single-transaction``); the database itself is never dropped. Any failure raises
    :class:`BackupError` and leaves the database unchanged. Every statement waits at most
    ``lock_timeout`` for a lock, so a transaction left open elsewhere fails the restore instead
    of hanging it.

    Callers must close their own connections to ``db`` first: this closes Django's connections
    of the calling thread (``django.db.connections.close_all()``); connections of other threads
    and processes holding locks make the restore fail after ``lock_timeout``.
    """
    from django.db import connections

    pg_restore = find_tool("pg_restore")
    timeout_seconds(lock_timeout)
    if not source.is_file():
        raise BackupError(f"no PostgreSQL dump at {source}")
    connections.close_all()
    application_name = f"commandcenter-restore-{secrets.token_hex(4)}"
    params = connection_params(db) | {"application_name": application_name}
    name = params.get("dbname", "")
    log.info("postgres_restore_started", database=name, source=str(source))
    stderr = pgtools.ToolOutput(progress, _RESTORING, "restoring")
    with _LockWatchdog(db, application_name, lock_timeout) as watchdog:
        try:
            pgtools.run_restore(_restore_command(pg_restore, params, clean=True), source, db, stderr)
        except BackupError as exc:
            reason = watchdog.reason or str(exc)
            raise BackupError(f"{reason}; database {name!r} is unchanged (the restore ran in one transaction)") from exc
    with _connect(db, connection_params(db)) as conn:
        try:
            counts = _consistent_counts(conn)
        except psycopg.Error as exc:
            raise BackupError(f"counting rows of {name!r} after the restore failed: {exc}") from exc
    log.info("postgres_restore_completed", database=name, tables=len(counts))
    return counts


# --- verify ---------------------------------------------------------------------------------


def _scratch_base(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)[:40] or "db"


def scratch_database_name(name: str) -> str:
    return f"{_scratch_base(name)}_verify_{secrets.token_hex(4)}"


def drop_stale_scratch_databases(db: dict[str, Any], *, maintenance_db: str = MAINTENANCE_DATABASE) -> list[str]:
    """Scratch databases left by a drill whose process was killed. Call it only while no
    drill runs (the backup lock is held)."""
    admin_params = connection_params(db, dbname=maintenance_db)
    pattern = re.compile(rf"{re.escape(_scratch_base(str(db.get('NAME') or 'db')))}_verify_[0-9a-f]{{8}}")
    with _connect(db, admin_params) as admin:
        names = [row[0] for row in admin.execute("SELECT datname FROM pg_database").fetchall()]
    stale = [name for name in names if pattern.fullmatch(name)]
    for name in stale:
        _drop_database(db, admin_params, name)
        log.warning("postgres_verify_stale_scratch_dropped", scratch_database=name)
    return stale


def _drop_database(db: dict[str, Any], admin_params: dict[str, str], name: str) -> None:
    with _connect(db, admin_params) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        drop = sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
        if admin.info.server_version >= 130000:
            drop = sql.SQL("{} WITH (FORCE)").format(drop)
        admin.execute(drop)


def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> dict[str, dict[str, int | None]]:
    return {
        table: {"expected": expected.get(table), "actual": actual.get(table)}
        for table in sorted(expected.keys() | actual.keys())
        if expected.get(table) != actual.get(table)
    }


def verify(
    db: dict[str, Any],
    source: Path,
    expected_counts: dict[str, int],
    *,
    progress: Progress = None,
    maintenance_db: str = MAINTENANCE_DATABASE,
) -> dict[str, Any]:
    """Restore drill: restore ``source`` into a scratch database ``<name>_verify_<random>``
    (created and dropped from ``maintenance_db``, never from ``db`` itself) and compare its row
    counts with ``expected_counts`` (the manifest's).

    Returns ``{"ok", "mismatches", "row_counts", "database"}``; an archive that cannot be
    restored raises :class:`BackupError`. The scratch database is always dropped. The role of
    ``db`` needs the CREATEDB privilege.
    """
    pg_restore = find_tool("pg_restore")
    if not source.is_file():
        raise BackupError(f"no PostgreSQL dump at {source}")
    admin_params = connection_params(db, dbname=maintenance_db)
    scratch = scratch_database_name(str(db.get("NAME") or "db"))
    with _connect(db, admin_params) as admin:
        try:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch)))
        except psycopg.Error as exc:
            raise BackupError(f"cannot create the scratch database {scratch!r} (needs CREATEDB): {exc}") from exc
    log.info("postgres_verify_started", scratch_database=scratch, source=str(source))
    try:
        scratch_params = connection_params(db, dbname=scratch)
        stderr = pgtools.ToolOutput(progress, _RESTORING, "restoring")
        pgtools.run_restore(_restore_command(pg_restore, scratch_params, clean=False), source, db, stderr)
        with _connect(db, scratch_params) as conn:
            try:
                counts = _consistent_counts(conn)
            except psycopg.Error as exc:
                raise BackupError(f"counting rows of the scratch database failed: {exc}") from exc
    finally:
        try:
            _drop_database(db, admin_params, scratch)
        except BackupError as exc:
            log.error("postgres_verify_scratch_not_dropped", scratch_database=scratch, error=str(exc))
            raise
    mismatches = compare_counts(expected_counts, counts)
    log.info("postgres_verify_completed", ok=not mismatches, mismatches=len(mismatches))
    return {"ok": not mismatches, "mismatches": mismatches, "row_counts": counts, "database": scratch}
