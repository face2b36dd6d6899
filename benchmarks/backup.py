"""``manage.py backup`` / ``restore`` (postgres part) against plain ``pg_dump -Fc`` / ``pg_restore``.

Two scratch PostgreSQL databases made of the app's migrated schema filled through its own
tables (10,000 technologies, 20,000 repositories and a job history that grows to the size,
with every index and constraint the migrations define): ``commandcenter_bench_backup_app``
of at least 1 GB, where the targets are judged, and ``..._small`` of at least 200 MB, the
smallest size the targets name, for the memory comparison and to show the fixed cost of a
command. Both are kept for reuse. At each size, timed alternately (A B B A ...): (a)
``manage.py backup --only postgres --no-offsite`` (a zstd-compressed custom archive) vs (b)
``pg_dump -Fc -f FILE DB`` (zlib, pg_dump's default); then (c) ``manage.py restore TS --yes
--only postgres --no-safety-backup`` of the app's archive vs (d) ``pg_restore --clean
--if-exists --single-transaction -d DB FILE`` of pg_dump's, into the same database. Targets:
app/plain <= 1.15 both ways, judged on the median of the per-round ratios (3 rounds, 5 for
the 1 GB restores, after an untimed restore of each); the backup command's peak RSS about the
same at both sizes.

Both commands pay a fixed start-up (Python, the settings, every installed app's models) that
plain pg_dump/pg_restore do not: about 1 s on a slow 2-core machine, which at 200 MB is a
fifth of a restore and at 1 GB a twentieth. The report gives the ratios at both sizes and the
measured parts of that fixed cost.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from benchmarks.db import ensure_database
from benchmarks.errors import BenchmarkError
from benchmarks.report import Report, SummaryRow, Table, Text

NAME = "backup"
TITLE = "Backup and restore (postgres): manage.py vs plain pg_dump / pg_restore"

ROOT = Path(__file__).resolve().parents[1]
SERVER_URL = os.environ.get("BENCH_BACKUP_SERVER", "postgres://postgres@127.0.0.1:5432")
LARGE_DB = "commandcenter_bench_backup_app"
SMALL_DB = "commandcenter_bench_backup_app_small"
LARGE_MB = 1000
SMALL_MB = 200
TARGET_RATIO = 1.15
TARGET_MEMORY_RATIO = 1.25  # "about the same": large/small peak RSS of the backup command

ROUNDS = 3  # per variant; a round is one pair, the order alternates (A B, B A, ...)
# The 1 GB restores: the slowest pair and the one whose single runs vary most on a shared machine.
RESTORE_ROUNDS = 5
TIME_BUDGET = 150.0  # seconds of timed runs at most; a started round always completes

FILLER_BATCH = 60_000  # job rows per INSERT at most (~55 MB on disk with their indexes)
FILLER_ROW_BYTES = 900  # on disk per job row, indexes included (measured), to size the last batch

# The application's own tables, with their indexes and constraints, as a deployment that has
# run for a while has them: a catalogue (technologies, repositories, their links) and a long
# job history (JSON arguments and results, some failures with tracebacks) that grows to size.
CATALOGUE_ROWS = [
    "INSERT INTO technologies_technology (created_at, updated_at, title, slug, vendor, domain, status, ring,"
    " relevance_score, priority, description, notes, use_cases, documentation_url, repository_url, website_url)"
    " SELECT now() - g * interval '1 hour', now(), 'Technology ' || g, 'technology-' || g, 'Vendor ' || (g % 300),"
    " (ARRAY['language','framework','database','infrastructure','tooling','other'])[1 + g % 6],"
    " (ARRAY['discovery','research','evaluation','adopted','rejected'])[1 + g % 5],"
    " (ARRAY['adopt','trial','assess','hold'])[1 + g % 4], g % 101, 1 + g % 5,"
    " repeat(md5(g::text) || ' evaluated for services that need it. ', 6), 'notes ' || md5((g * 7)::text),"
    " 'use case ' || g, 'https://docs.example.org/' || g, 'https://github.com/vendor/tech-' || g,"
    " 'https://example.org/' || g FROM generate_series(1, 10000) AS g"
    " ON CONFLICT DO NOTHING",
    "INSERT INTO repositories_repository (created_at, updated_at, owner, name, full_name, url, clone_url,"
    " default_branch, description, is_private, language, stars, forks, open_issues, topics, last_commit_sha,"
    " last_commit_message, last_commit_author, last_commit_date, last_synced_at, sync_status, sync_error,"
    " metadata, access_token, latest_release_tag, latest_release_name, latest_release_url, github_etags)"
    " SELECT now(), now(), 'org' || (g % 500), 'repo-' || g, 'org' || (g % 500) || '/repo-' || g,"
    " 'https://github.com/org' || (g % 500) || '/repo-' || g, 'https://github.com/org' || (g % 500) || '/repo-' || g"
    " || '.git', 'main', 'Repository ' || g || ' ' || repeat(md5(g::text), 3), g % 7 = 0,"
    " (ARRAY['Python','Go','Rust','TypeScript'])[1 + g % 4], g * 13 % 90000, g % 900, g % 120,"
    " jsonb_build_array('topic' || (g % 40), 'topic' || (g % 13)), md5(g::text) || substr(md5((g+1)::text), 1, 8),"
    " 'Merge pull request #' || g, 'Dev ' || (g % 800), now() - g * interval '1 minute', now(), 'ok', '',"
    " jsonb_build_object('team', 'team-' || (g % 30)), '', 'v' || (g % 9) || '.' || (g % 17), 'Release ' || g,"
    " 'https://github.com/org/repo-' || g || '/releases', '{}'::jsonb FROM generate_series(1, 20000) AS g"
    " ON CONFLICT DO NOTHING",
    "INSERT INTO technologies_technology_repositories (technology_id, repository_id)"
    " SELECT t.id, r.id FROM technologies_technology t JOIN repositories_repository r ON r.id % 10000 = t.id % 10000"
    " ON CONFLICT DO NOTHING",
]
JOB_ROWS = (
    "INSERT INTO jobs_job (id, task_id, name, state, args, kwargs, queue, worker, retries, result, error,"
    " traceback, queued_at, started_at, finished_at, duration)"
    " SELECT g, md5(g::text || 'task')::uuid::text,"
    " (ARRAY['apps.repositories.tasks.sync_repository','apps.knowledge.tasks.ingest_document',"
    "'apps.backups.tasks.scheduled_backup','apps.jobs.tasks.prune_job_history'])[1 + g % 4],"
    " CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'succeeded' END,"
    " jsonb_build_array(g % 20000, g % 3 = 0), jsonb_build_object('force', g % 2 = 0, 'request', md5(g::text)),"
    " 'celery', 'celery@worker-' || (g % 4), g % 3,"
    " jsonb_build_object('repository', 'org' || (g % 500) || '/repo-' || g, 'ok', g % 10 <> 0,"
    " 'changed', g % 5 = 0, 'etag', md5((g * 3)::text), 'chunks', g % 97, 'detail', md5((g * 5)::text)"
    " || md5((g * 11)::text)),"
    " CASE WHEN g % 10 = 0 THEN 'TransientGitHubError: GitHub answered 502 for /repos/org/repo-' || g ELSE '' END,"
    " CASE WHEN g % 10 = 0 THEN repeat('  File \"/app/apps/repositories/sync.py\", line ' || (g % 300)"
    " || ', in sync_repository\n    changed = _read_into(repository, client)\n', 8) ELSE '' END,"
    " now() - g * interval '1 second', now() - g * interval '1 second' + interval '20 ms',"
    " now() - g * interval '1 second' + interval '900 ms', 0.88 + (g % 1000) / 1000.0"
    " FROM generate_series({start} + 1, {start} + {batch}) AS g"
)
SAMPLE_INTERVAL = 0.02  # seconds between reads of the tree's VmHWM
TREE_RESCAN = 0.5  # seconds between scans of /proc for the tree's processes (pg_dump/pg_restore live longer)


# --- processes --------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    tree_rss_kb: int  # ru_maxrss of wait4: the largest process of the tree
    rss_kb: dict[str, int] = field(default_factory=dict)  # peak VmHWM per command name
    output: str = ""


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _hwm(pid: int) -> tuple[str, int] | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            status = handle.read()
    except OSError:
        return None
    name = re.search(r"^Name:\s*(\S+)", status, re.M)
    hwm = re.search(r"^VmHWM:\s*(\d+)", status, re.M)
    if not name or not hwm:
        return None
    return name.group(1), int(hwm.group(1))


def _descendants(root: int) -> list[int]:
    tree = _children()
    found: list[int] = []
    pending = [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(tree.get(pid, []))
    return found


def _sample_tree(root: int, peaks: dict[str, int], stop: threading.Event) -> None:
    """VmHWM (the kernel's own peak) of every process of the tree, read every SAMPLE_INTERVAL;
    the tree itself, a read of every process's /proc stat (about 1.3 ms on 2 cores), only every
    TREE_RESCAN: scanned every sample, it took 7 % of a core from the runs it measured."""
    members: list[int] = []
    rescanned = float("-inf")
    while not stop.is_set():
        now = time.monotonic()
        if now - rescanned >= TREE_RESCAN:
            members = _descendants(root)
            rescanned = now
        for pid in members:
            found = _hwm(pid)
            if found:
                name, kb = found
                peaks[name] = max(peaks.get(name, 0), kb)
        stop.wait(SAMPLE_INTERVAL)


def measure(command: list[str], env: dict[str, str], log: Path) -> Run:
    """Run ``command``; wall time, ru_maxrss of the tree (wait4) and VmHWM per process name."""
    peaks: dict[str, int] = {}
    stop = threading.Event()
    with open(log, "w+b") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        sampler = threading.Thread(target=_sample_tree, args=(process.pid, peaks, stop), daemon=True)
        sampler.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            stop.set()
            sampler.join()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode(errors="replace")
    if process.returncode != 0:
        tail = "\n".join(output.splitlines()[-15:])
        raise BenchmarkError(f"{' '.join(command[:4])} ... exited {process.returncode}:\n{tail}")
    return Run(seconds, usage.ru_maxrss, peaks, output)


# --- databases ----------------------------------------------------------------------------------


def db_url(name: str) -> str:
    parts = urlsplit(SERVER_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def conninfo(name: str) -> str:
    parts = urlsplit(SERVER_URL)
    return urlunsplit(("postgresql", parts.netloc, f"/{name}", "", ""))


def app_env(name: str, scratch: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BACKUP_", "PG", "DJANGO_", "CELERY_", "CHROMA_"))
        # Bytecode is cached as in a deployed image (the warm-up run writes it), not recompiled per run.
        and key != "PYTHONDONTWRITEBYTECODE"
    }
    return env | {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": db_url(name),
        "BACKUP_DIR": str(scratch / "backups"),
        "MEDIA_ROOT": str(scratch / "media"),
        "CHROMA_PATH": str(scratch / "chroma"),
        "REDIS_URL": "",
        "BACKUP_S3_BUCKET": "",
        "PYTHONUNBUFFERED": "1",
    }


def database_size(name: str) -> int:
    with psycopg.connect(conninfo(name), autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        assert row is not None
        return int(row[0])


def prepare(name: str, megabytes: int, scratch: Path) -> tuple[int, str]:
    """Create/migrate ``name`` and fill it to ``megabytes``; return (size, what was done)."""
    created = ensure_database(db_url(name))
    migrate = [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"]
    measure(migrate, app_env(name, scratch), scratch / f"migrate-{name}.log")
    target = megabytes * 1_000_000
    size = database_size(name)
    if size >= target:
        return size, "reused"
    with psycopg.connect(conninfo(name), autocommit=True) as conn:
        for statement in CATALOGUE_ROWS:
            conn.execute(statement)
        while size < target:
            row = conn.execute("SELECT coalesce(max(id), 0) FROM jobs_job").fetchone()
            start = int(row[0]) if row else 0
            batch = max(10_000, min(FILLER_BATCH, (target - size) // FILLER_ROW_BYTES + 1))
            conn.execute(sql.SQL(JOB_ROWS).format(start=sql.Literal(start), batch=sql.Literal(batch)))
            size = database_size(name)
        conn.execute("VACUUM ANALYZE")
    return database_size(name), "created and filled" if created else "filled"


def row_count_seconds(name: str) -> float:
    """What the app's row counts cost: count(*) of every user table in one snapshot."""
    with psycopg.connect(conninfo(name), autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, table in tables:
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table)))
        conn.execute("ROLLBACK")
        return time.perf_counter() - started


def sha256_seconds(path: Path) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return time.perf_counter() - started


# --- the benchmark ----------------------------------------------------------------------------------


@dataclass
class Side:
    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    def times(self) -> str:
        return ", ".join(f"{r.seconds:.2f}" for r in self.runs)


def backup_timestamp(output: str) -> str:
    match = re.search(r"backup (\d{8}_\d{6}) complete", output)
    if not match:
        raise BenchmarkError(f"cannot find the backup timestamp in:\n{output[-2000:]}")
    return match.group(1)


def app_backup(name: str, scratch: Path, log: str) -> tuple[Run, Path]:
    command = [sys.executable, "manage.py", "backup", "--only", "postgres", "--no-offsite"]
    run = measure(command, app_env(name, scratch), scratch / log)
    dump = scratch / "backups" / "postgres" / f"{backup_timestamp(run.output)}.dump.zst"
    return run, dump


def plain_dump(name: str, target: Path, scratch: Path) -> Run:
    target.unlink(missing_ok=True)
    command = ["pg_dump", "-Fc", "-f", str(target), "-d", conninfo(name)]
    return measure(command, app_env(name, scratch), scratch / "pg_dump.log")


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f}"


def verdict(ok: bool) -> str:
    return "target met" if ok else "target MISSED"


def run() -> Report:
    if not shutil.which("pg_dump") or not shutil.which("pg_restore"):
        raise BenchmarkError("pg_dump and pg_restore must be on PATH")
    scratch = Path(tempfile.mkdtemp(prefix="cc-bench-backup-"))
    try:
        return _run(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(scratch: Path) -> Report:
    print(f"[{NAME}] preparing {LARGE_DB} (>= {LARGE_MB} MB) and {SMALL_DB} (>= {SMALL_MB} MB) ...", file=sys.stderr)
    prep_started = time.perf_counter()
    large_size, large_how = prepare(LARGE_DB, LARGE_MB, scratch)
    small_size, small_how = prepare(SMALL_DB, SMALL_MB, scratch)
    prep_seconds = time.perf_counter() - prep_started
    plain_file = scratch / "plain.dump"

    # Warm-up (not measured): page cache and shared buffers, Python bytecode.
    print(f"[{NAME}] warm-up ...", file=sys.stderr)
    plain_dump(LARGE_DB, plain_file, scratch)
    _, restore_source = app_backup(LARGE_DB, scratch, "warmup-backup.log")
    restore_stamp = restore_source.name.split(".", 1)[0]
    # What both commands pay before doing anything: python, django.setup(), the command's parser.
    startup_command = [sys.executable, "manage.py", "backup", "--help"]
    startup = min(
        (measure(startup_command, app_env(LARGE_DB, scratch), scratch / "startup.log") for _ in range(3)),
        key=lambda r: r.seconds,
    )

    started = time.perf_counter()
    print(f"[{NAME}] backup: app vs pg_dump ...", file=sys.stderr)
    app_b, plain_b = Side(), Side()

    def do_app_backup() -> Run:
        run, dump = app_backup(LARGE_DB, scratch, "backup.log")
        dump.unlink()  # the warm-up's set is the one restored; keep the disk use flat
        return run

    backup_rounds = _alternate(
        LARGE_DB, (do_app_backup, lambda: plain_dump(LARGE_DB, plain_file, scratch)), (app_b, plain_b)
    )

    print(f"[{NAME}] restore: app vs pg_restore ...", file=sys.stderr)
    app_r, plain_r = Side(), Side()
    restore_app = [
        sys.executable,
        "manage.py",
        "restore",
        restore_stamp,
        "--yes",
        "--only",
        "postgres",
        "--no-safety-backup",
    ]
    restore_plain = [
        "pg_restore",
        "--clean",
        "--if-exists",
        "--single-transaction",
        "-d",
        conninfo(LARGE_DB),
        str(plain_file),  # pg_dump's own archive (the last one of the backup rounds)
    ]
    env = app_env(LARGE_DB, scratch)
    # Warm-up (not measured): one restore of each, so that neither side's first timed run is
    # the first restore over the freshly filled database.
    for warmup in (restore_plain, restore_app):
        checkpoint(LARGE_DB)
        measure(warmup, env, scratch / "warmup-restore.log")
    restore_rounds = _alternate(
        LARGE_DB,
        (
            lambda: measure(restore_app, env, scratch / "restore.log"),
            lambda: measure(restore_plain, env, scratch / "pg_restore.log"),
        ),
        (app_r, plain_r),
        minimum=RESTORE_ROUNDS,
    )
    plain_size = plain_file.stat().st_size  # before the small database's dump replaces it

    print(f"[{NAME}] the same at {SMALL_MB} MB: memory and fixed costs ...", file=sys.stderr)
    small_app, small_plain = Side(), Side()
    small_dumps: list[Path] = []

    def do_small_backup() -> Run:
        run, dump = app_backup(SMALL_DB, scratch, "small-backup.log")
        for earlier in small_dumps:
            earlier.unlink()
        small_dumps[:] = [dump]  # the last one is restored below
        return run

    _alternate(SMALL_DB, (do_small_backup, lambda: plain_dump(SMALL_DB, plain_file, scratch)), (small_app, small_plain))
    small_source = small_dumps[0]
    small_env = app_env(SMALL_DB, scratch)
    small_restore_app = [*restore_app[:3], small_source.name.split(".", 1)[0], *restore_app[4:]]
    small_restore_plain = [*restore_plain[:-2], conninfo(SMALL_DB), str(plain_file)]
    small_app_r, small_plain_r = Side(), Side()
    _alternate(
        SMALL_DB,
        (
            lambda: measure(small_restore_app, small_env, scratch / "small-restore.log"),
            lambda: measure(small_restore_plain, small_env, scratch / "small-pg_restore.log"),
        ),
        (small_app_r, small_plain_r),
    )
    timed_seconds = time.perf_counter() - started

    # Where the app's extra time goes (measured on their own, once).
    dump_size = restore_source.stat().st_size
    sha_s = sha256_seconds(restore_source)
    counts_s = row_count_seconds(LARGE_DB)

    return _report(
        sizes=(large_size, small_size, large_how, small_how, dump_size, plain_size),
        backup=(app_b, plain_b, backup_rounds),
        restore=(app_r, plain_r, restore_rounds),
        small=(small_app, small_plain, small_app_r, small_plain_r),
        extras=(startup.seconds, sha_s, counts_s),
        seconds=(prep_seconds, timed_seconds),
    )


def checkpoint(name: str) -> None:
    """Write out what earlier runs left dirty, so that no run pays for the one before it."""
    with psycopg.connect(conninfo(name), autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def _alternate(
    database: str,
    pair: tuple[Callable[[], Run], Callable[[], Run]],
    sides: tuple[Side, Side],
    minimum: int = ROUNDS,
) -> int:
    """``minimum`` rounds (more while the budget allows, up to twice as many), alternating the
    order, each run after a CHECKPOINT of ``database`` (not timed)."""
    started = time.perf_counter()
    rounds = 0
    while rounds < minimum or (rounds < 2 * minimum and time.perf_counter() - started < TIME_BUDGET / 4):
        order = (0, 1) if rounds % 2 == 0 else (1, 0)
        for index in order:
            checkpoint(database)
            sides[index].runs.append(pair[index]())
        rounds += 1
    return rounds


def _peak(run: Run, prefix: str) -> int:
    return max((kb for name, kb in run.rss_kb.items() if name.startswith(prefix)), default=0)


def _peaks(side: Side, prefix: str) -> int:
    return max(_peak(r, prefix) for r in side.runs)


def _ratio_cells(app: Side, plain: Side) -> tuple[float, str]:
    """The median of the per-round ratios (each app run over the plain run of its round, made
    in the same minute: robust to a slow minute of a shared machine, as the other benchmarks'
    verdicts), and the range of those ratios."""
    pairs = [a.seconds / p.seconds for a, p in zip(app.runs, plain.runs, strict=True)]
    return statistics.median(pairs), f"{min(pairs):.2f} - {max(pairs):.2f}"


def _report(
    *,
    sizes: tuple[int, int, str, str, int, int],
    backup: tuple[Side, Side, int],
    restore: tuple[Side, Side, int],
    small: tuple[Side, Side, Side, Side],
    extras: tuple[float, float, float],
    seconds: tuple[float, float],
) -> Report:
    large_size, small_size, large_how, small_how, dump_size, plain_size = sizes
    app_b, plain_b, backup_rounds = backup
    app_r, plain_r, restore_rounds = restore
    small_app, small_plain, small_app_r, small_plain_r = small
    startup_s, sha_s, counts_s = extras
    prep_s, timed_s = seconds
    report = Report(NAME, TITLE)

    report.blocks.append(
        Table(
            "Databases (kept for reuse)",
            ["database", "pg_database_size", "this run"],
            [
                [LARGE_DB, f"{large_size / 1e6:.0f} MB", large_how],
                [SMALL_DB, f"{small_size / 1e6:.0f} MB", small_how],
            ],
            align="lrl",
        )
    )

    def timing_rows(app: Side, plain: Side, tool: str, app_label: str, plain_label: str) -> list[Sequence[str]]:
        return [
            [app_label, app.times(), f"{app.median:.2f}", mb(_peaks(app, "python")), mb(_peaks(app, tool))],
            [plain_label, plain.times(), f"{plain.median:.2f}", "-", mb(_peaks(plain, tool))],
        ]

    headers = ["variant", "runs (s, in order)", "median s", "peak RSS python MB", "peak RSS {} MB"]
    report.blocks.append(
        Table(
            f"Backup of {LARGE_DB} ({large_size / 1e6:.0f} MB; archives: app (zstd) {dump_size / 1e6:.1f} MB, "
            f"pg_dump -Fc (zlib) {plain_size / 1e6:.1f} MB), {backup_rounds} rounds, alternating",
            [*headers[:4], headers[4].format("pg_dump")],
            timing_rows(
                app_b,
                plain_b,
                "pg_dump",
                "(a) manage.py backup --only postgres --no-offsite",
                "(b) pg_dump -Fc -f FILE",
            ),
            align="llrrr",
        )
    )
    report.blocks.append(
        Table(
            f"Restore into {LARGE_DB} (each side its own archive of the same data), {restore_rounds} rounds, "
            "alternating",
            [*headers[:4], headers[4].format("pg_restore")],
            timing_rows(
                app_r,
                plain_r,
                "pg_restore",
                "(c) manage.py restore TS --yes --only postgres --no-safety-backup",
                "(d) pg_restore --clean --if-exists --single-transaction",
            ),
            align="llrrr",
        )
    )

    report.blocks.append(
        Table(
            f"The same at {small_size / 1e6:.0f} MB ({SMALL_DB}, each side its own archive), alternating",
            [*headers[:4], "peak RSS pg_dump/pg_restore MB"],
            [
                *timing_rows(small_app, small_plain, "pg_dump", "(a) manage.py backup", "(b) pg_dump -Fc"),
                *timing_rows(small_app_r, small_plain_r, "pg_restore", "(c) manage.py restore", "(d) pg_restore"),
            ],
            align="llrrr",
        )
    )

    backup_ratio, backup_pairs = _ratio_cells(app_b, plain_b)
    restore_ratio, restore_pairs = _ratio_cells(app_r, plain_r)
    small_backup_ratio, small_backup_pairs = _ratio_cells(small_app, small_plain)
    small_restore_ratio, small_restore_pairs = _ratio_cells(small_app_r, small_plain_r)
    large_mb, small_mb = f"{large_size / 1e6:.0f} MB", f"{small_size / 1e6:.0f} MB"

    def within(ratio: float) -> str:
        return "within 1.15" if ratio <= TARGET_RATIO else "over 1.15 (fixed start-up, below)"

    report.blocks.append(
        Table(
            "Ratios app / plain (median of the per-round ratios; their range); the targets are judged on the "
            "larger database",
            ["comparison", "ratio", "per-round", "target", "verdict"],
            [
                [
                    f"backup (a)/(b), {large_mb}",
                    f"{backup_ratio:.2f}",
                    backup_pairs,
                    f"<= {TARGET_RATIO}",
                    verdict(backup_ratio <= TARGET_RATIO),
                ],
                [
                    f"restore (c)/(d), {large_mb}",
                    f"{restore_ratio:.2f}",
                    restore_pairs,
                    f"<= {TARGET_RATIO}",
                    verdict(restore_ratio <= TARGET_RATIO),
                ],
                [
                    f"backup (a)/(b), {small_mb}",
                    f"{small_backup_ratio:.2f}",
                    small_backup_pairs,
                    "-",
                    within(small_backup_ratio),
                ],
                [
                    f"restore (c)/(d), {small_mb}",
                    f"{small_restore_ratio:.2f}",
                    small_restore_pairs,
                    "-",
                    within(small_restore_ratio),
                ],
            ],
            align="lrrrl",
        )
    )

    large_py, small_py = _peaks(app_b, "python"), _peaks(small_app, "python")
    large_dump, small_dump = _peaks(app_b, "pg_dump"), _peaks(small_app, "pg_dump")
    large_tree = max(r.tree_rss_kb for r in app_b.runs)
    small_tree = max(r.tree_rss_kb for r in small_app.runs)
    plain_large, plain_small = _peaks(plain_b, "pg_dump"), _peaks(small_plain, "pg_dump")
    memory_ratio = large_py / small_py
    report.summary = [
        SummaryRow(
            f"Backup (postgres, {large_mb} db): manage.py backup vs pg_dump -Fc (medians; ratio: median per round)",
            f"{app_b.median:.2f} s",
            f"{plain_b.median:.2f} s",
            f"{backup_ratio:.2f}",
            f"<= {TARGET_RATIO}",
            backup_ratio <= TARGET_RATIO,
        ),
        SummaryRow(
            f"Restore (postgres, {large_mb} db): manage.py restore vs pg_restore (medians; ratio: median per round)",
            f"{app_r.median:.2f} s",
            f"{plain_r.median:.2f} s",
            f"{restore_ratio:.2f}",
            f"<= {TARGET_RATIO}",
            restore_ratio <= TARGET_RATIO,
        ),
        SummaryRow(
            f"Backup at {small_mb}: manage.py backup vs pg_dump -Fc (medians; ratio: median per round)",
            f"{small_app.median:.2f} s",
            f"{small_plain.median:.2f} s",
            f"{small_backup_ratio:.2f}",
        ),
        SummaryRow(
            f"Restore at {small_mb}: manage.py restore vs pg_restore (median; the fixed start-up weighs "
            f"{large_size / small_size:.1f}x more)",
            f"{small_app_r.median:.2f} s",
            f"{small_plain_r.median:.2f} s",
            f"{small_restore_ratio:.2f}",
        ),
        SummaryRow(
            f"Backup peak RSS at {large_size / 1e6:.0f} MB vs {small_size / 1e6:.0f} MB db",
            f"{mb(large_py)} MB",
            f"{mb(small_py)} MB",
            f"{memory_ratio:.2f}",
            f"<= {TARGET_MEMORY_RATIO}",
            memory_ratio <= TARGET_MEMORY_RATIO,
        ),
        SummaryRow("Python + Django start-up (manage.py backup --help), paid by both commands", f"{startup_s:.2f} s"),
    ]
    report.blocks.append(
        Table(
            "Peak RSS of the backup command at two database sizes (MB; max over the runs)",
            ["process", f"{small_size / 1e6:.0f} MB db", f"{large_size / 1e6:.0f} MB db", "ratio large/small"],
            [
                ["manage.py backup: python", mb(small_py), mb(large_py), f"{memory_ratio:.2f}"],
                ["manage.py backup: its pg_dump", mb(small_dump), mb(large_dump), f"{large_dump / small_dump:.2f}"],
                [
                    "manage.py backup: tree (wait4 ru_maxrss)",
                    mb(small_tree),
                    mb(large_tree),
                    f"{large_tree / small_tree:.2f}",
                ],
                ["plain pg_dump -Fc", mb(plain_small), mb(plain_large), f"{plain_large / plain_small:.2f}"],
            ],
            align="lrrr",
        )
    )
    report.blocks.append(
        Text(
            f"Memory: the backup process's peak RSS is {memory_ratio:.2f}x at {large_size / small_size:.1f}x the "
            f"data ({verdict(memory_ratio <= TARGET_MEMORY_RATIO)}: about the same, <= {TARGET_MEMORY_RATIO})."
        )
    )

    report.blocks.append(
        Table(
            "Where the app's extra time goes (each measured once, on its own)",
            ["component", "seconds", "in backup", "in restore"],
            [
                [
                    f"measured extra: median app - median plain, {large_size / 1e6:.0f} MB db",
                    "-",
                    f"{app_b.median - plain_b.median:.2f}",
                    f"{app_r.median - plain_r.median:.2f}",
                ],
                [
                    f"measured extra: median app - median plain, {small_size / 1e6:.0f} MB db",
                    "-",
                    f"{small_app.median - small_plain.median:.2f}",
                    f"{small_app_r.median - small_plain_r.median:.2f}",
                ],
                [
                    "python + Django start-up (manage.py backup --help, best of 3)",
                    f"{startup_s:.2f}",
                    "yes",
                    "yes",
                ],
                [
                    f"SHA-256 of the {dump_size / 1e6:.1f} MB archive (read back)",
                    f"{sha_s:.2f}",
                    "no (while written)",
                    "yes (before)",
                ],
                ["count(*) of every table in one snapshot", f"{counts_s:.2f}", "yes (before)", "yes (after)"],
            ],
            align="lrll",
        )
    )
    report.blocks.append(
        Text(
            "What the app does beyond plain pg_dump/pg_restore: backup - takes the flock on BACKUP_DIR/.lock, "
            "cleans interrupted runs, writes a BackupRun row (created, then finished), checks pg_dump's version "
            "against the server, opens a REPEATABLE READ snapshot, counts the rows of every table in it and "
            "hands it to pg_dump (--snapshot, --lock-wait-timeout, --verbose, stderr parsed line by line in a "
            "thread), reads the uncompressed archive (--compress=0) from pg_dump's stdout and compresses it with "
            "zstd (level 3, in zstd's worker threads, frame checksum) into a temporary name while hashing it "
            "(SHA-256), fsyncs, renames, fsyncs the folder and writes the JSON manifest atomically; pg_dump's "
            "own zlib compression, on pg_dump's single core, is what makes plain pg_dump -Fc slower. Restore - "
            "reads the manifest, re-reads the archive to verify size and SHA-256 before touching anything, "
            "takes the lock, runs a lock watchdog session (polls pg_stat_activity every 0.25 s), runs pg_restore "
            "with --exit-on-error --no-owner --verbose (plus the same --clean --if-exists --single-transaction) "
            "fed by zstd through its stdin (the end held back until the frame's checksum matched), then counts "
            "every table's rows again and prints them against the manifest. Both pay a Python + Django start-up "
            "(without system checks, and with the cyclic garbage collector off while Django loads: manage.py)."
        )
    )
    report.blocks.append(
        Text(
            "\n".join(
                [
                    f"date: {datetime.now(UTC).isoformat(timespec='seconds')}",
                    f"host: {platform.node()} ({os.cpu_count()} CPUs), load {os.getloadavg()[0]:.2f} at end",
                    f"python: {platform.python_version()}; {_tool_version('pg_dump')}",
                    f"server: {SERVER_URL} (local); data: the app's tables (technologies, repositories, job history)",
                    f"preparation {prep_s:.0f} s; timed runs {timed_s:.0f} s (the restore warm-up included); "
                    "warm-up: one pg_dump + one app backup, then one pg_restore + one app restore",
                    "peak RSS: VmHWM per process read every 20 ms from /proc (the tree rescanned every 0.5 s); "
                    "tree = ru_maxrss from wait4",
                    "each timed run starts after a CHECKPOINT of its database (not timed)",
                    "temporary BACKUP_DIR/MEDIA_ROOT/CHROMA_PATH removed; the scratch databases are kept for reuse",
                ]
            ),
            code=True,
        )
    )
    return report


def _tool_version(tool: str) -> str:
    try:
        return subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{tool}: unknown version"
