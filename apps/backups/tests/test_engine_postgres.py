"""The PostgreSQL engine against a real server (DATABASE_URL): dump, restore, verify.

Transactional test cases: pg_dump, pg_restore and the scratch database run in other sessions,
so no test transaction may hold locks or hide rows from them.
"""

from __future__ import annotations

import itertools
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import zstandard
from django.db import connection
from psycopg import sql
from psycopg.conninfo import make_conninfo

from apps.backups.engines import pgtools, postgres
from apps.backups.engines.common import BackupError
from apps.backups.files import sha256_file
from apps.repositories.tests.factories import RepositoryFactory
from apps.technologies.models import Tag, Technology
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pg(postgres_url: str) -> dict[str, Any]:
    """The settings of the test database pytest-django created."""
    if connection.vendor != "postgresql":
        pytest.skip("the default database is not PostgreSQL")
    return dict(connection.settings_dict)


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return tmp_path / "20260101_020000" / "postgres" / "database.dump.zst"


def connect(db: dict[str, Any], **kwargs: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(
        make_conninfo("", **postgres.connection_params(db)), password=db.get("PASSWORD") or None, **kwargs
    )


def live_counts(db: dict[str, Any]) -> dict[str, int]:
    with connect(db, autocommit=True) as conn:
        return postgres.row_counts(conn)


def content() -> dict[str, Any]:
    return {
        "technologies": set(Technology.objects.values_list("title", "vendor", "ring")),
        "tags": set(Tag.objects.values_list("name", flat=True)),
        "tagged": set(Technology.tags.through.objects.values_list("technology__title", "tag__name")),
        "linked": set(Technology.repositories.through.objects.values_list("technology__title", "repository__name")),
    }


def scratch_databases(db: dict[str, Any]) -> list[str]:
    with connect(db, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{db['NAME'][:40]}\\_verify\\_%"]
        ).fetchall()
    return [row[0] for row in rows]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def fake_tool(tmp_path: Path, body: str) -> str:
    """A pg_dump stand-in: answers --version like the real one, runs ``body`` otherwise."""
    script = tmp_path / "fake_pg_dump"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) ${FAKE_VERSION:-15.2}"; exit 0; fi\n' + body
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_it_round_trips_the_database(pg: dict[str, Any], target: Path) -> None:
    repository = RepositoryFactory.create(name="command-center")
    TechnologyFactory.create(title="Django", tags=["python", "web"], repositories=[repository])
    TechnologyFactory.create(title="PostgreSQL", tags=["database"])
    TechnologyFactory.create(title="Redis")
    before = content()
    messages: list[str] = []

    result = postgres.dump(pg, target, progress=messages.append)

    details = result.details
    assert details["engine"] == "postgresql"
    assert details["database"] == pg["NAME"]
    with connect(pg, autocommit=True) as conn:
        assert details["server_version"] == conn.info.parameter_status("server_version")
    assert details["pg_dump_version"].split(".")[0].isdigit()
    assert details["row_counts"] == live_counts(pg)
    assert details["row_counts"]["public.technologies_technology"] == 3
    assert details["row_counts"]["public.technologies_technology_tags"] == 3
    assert "dumping table public.technologies_technology" in messages
    [written] = result.files
    assert written.path == target
    assert written.size == target.stat().st_size
    assert written.sha256 == sha256_file(target)
    assert leftovers(target.parent) == ["database.dump.zst"]
    assert details["format"] == "custom"
    assert details["compression"] == "zstd-3"
    assert target.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"  # a zstd frame...
    assert zstandard.ZstdDecompressor().stream_reader(target.open("rb")).read(5) == b"PGDMP"  # ...of a custom archive

    Technology.objects.filter(title="Django").delete()
    Tag.objects.filter(name="database").update(name="renamed")
    TechnologyFactory.create(title="Added after the dump", tags=["late"])
    assert content() != before

    counts = postgres.restore(pg, target)

    assert counts == details["row_counts"]
    assert content() == before
    # The restored database works for the ORM (sequences restored too).
    TechnologyFactory.create(title="After the restore", tags=["python"])
    assert Technology.objects.count() == 4


def test_it_counts_rows_in_the_dumps_own_snapshot_under_concurrent_writes(pg: dict[str, Any], target: Path) -> None:
    TechnologyFactory.create_batch(30)
    stop = threading.Event()
    started = threading.Event()
    inserted = itertools.count()
    errors: list[BaseException] = []

    def keep_inserting() -> None:
        try:
            with connect(pg, autocommit=True) as conn:
                while not stop.is_set():
                    conn.execute("INSERT INTO technologies_tag (name) VALUES (%s)", [f"concurrent-{next(inserted)}"])
                    started.set()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            started.set()

    writer = threading.Thread(target=keep_inserting, daemon=True)
    writer.start()
    try:
        assert started.wait(10)
        before = Tag.objects.count()
        result = postgres.dump(pg, target)
        after = Tag.objects.count()
    finally:
        stop.set()
        writer.join(10)
    assert not errors
    dumped = result.details["row_counts"]["public.technologies_tag"]
    assert before <= dumped < after, "rows kept arriving while the dump ran"

    report = postgres.verify(pg, target, result.details["row_counts"])

    assert report["ok"], report["mismatches"]
    assert report["row_counts"]["public.technologies_tag"] == dumped
    assert scratch_databases(pg) == []


def test_it_fails_with_wrong_credentials_and_leaves_no_file(pg: dict[str, Any], target: Path) -> None:
    wrong = {**pg, "USER": "no_such_role_for_backups"}

    with pytest.raises(BackupError, match="no_such_role_for_backups"):
        postgres.dump(wrong, target)

    assert not target.exists()
    assert leftovers(target.parent) == []


def test_it_fails_when_pg_dump_fails_and_removes_the_partial_file(
    pg: dict[str, Any], target: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = fake_tool(tmp_path, 'printf partial\necho "pg_dump: error: simulated failure" >&2\nexit 1\n')
    monkeypatch.setattr(postgres, "find_tool", lambda name: tool)

    with pytest.raises(BackupError, match=r"pg_dump failed \(exit code 1\): pg_dump: error: simulated failure"):
        postgres.dump(pg, target)

    assert leftovers(target.parent) == []


def test_it_fails_when_pg_dump_is_killed_mid_way(
    pg: dict[str, Any], target: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = fake_tool(tmp_path, "printf partial\nkill -KILL $$\n")
    monkeypatch.setattr(postgres, "find_tool", lambda name: tool)

    with pytest.raises(BackupError, match="killed by signal 9"):
        postgres.dump(pg, target)

    assert leftovers(target.parent) == []


def test_it_refuses_a_pg_dump_older_than_the_server(
    pg: dict[str, Any], target: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = fake_tool(tmp_path, "exit 0\n")
    monkeypatch.setattr(postgres, "find_tool", lambda name: tool)
    monkeypatch.setenv("FAKE_VERSION", "9.6.24")

    with pytest.raises(BackupError, match=r"pg_dump 9\.6 cannot dump a PostgreSQL \d+ server"):
        postgres.dump(pg, target)

    assert not target.exists()


def test_it_says_when_the_client_tools_are_missing(
    pg: dict[str, Any], target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pgtools.shutil, "which", lambda name: None)

    with pytest.raises(BackupError, match="pg_dump not found"):
        postgres.dump(pg, target)
    with pytest.raises(BackupError, match="pg_restore not found"):
        postgres.restore(pg, target)
    with pytest.raises(BackupError, match="pg_restore not found"):
        postgres.verify(pg, target, {})


def test_it_gives_up_on_a_held_lock_and_leaves_the_data_unchanged(pg: dict[str, Any], target: Path) -> None:
    TechnologyFactory.create(title="In the dump")
    postgres.dump(pg, target)
    TechnologyFactory.create(title="After the dump")
    before = content()

    with connect(pg) as blocker:
        blocker.execute("LOCK TABLE technologies_technology IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(BackupError, match=r"lock timeout.*unchanged"):
            postgres.restore(pg, target, lock_timeout="1s")
        elapsed = time.monotonic() - started
        blocker.rollback()

    assert elapsed < 10
    assert content() == before


def test_it_rejects_a_lock_timeout_that_is_not_an_interval(pg: dict[str, Any], target: Path) -> None:
    with pytest.raises(BackupError, match="invalid lock timeout"):
        postgres.restore(pg, target, lock_timeout="1s -c statement_timeout=0")


def test_it_rejects_a_truncated_dump_and_leaves_the_data_unchanged(pg: dict[str, Any], target: Path) -> None:
    TechnologyFactory.create_batch(5, tags=["python"])
    postgres.dump(pg, target)
    Technology.objects.filter(pk__in=list(Technology.objects.values_list("pk", flat=True)[:2])).delete()
    before = content()
    data = target.read_bytes()
    target.write_bytes(data[: len(data) * 2 // 3])

    with pytest.raises(BackupError, match="is truncated: its zstd frame does not end"):
        postgres.restore(pg, target)

    assert content() == before


def test_it_holds_back_the_end_of_an_archive_whose_frame_is_incomplete(pg: dict[str, Any], target: Path) -> None:
    """Every byte of the archive decompresses, only the frame's checksum is missing: pg_restore
    must not get the end of its input (it would commit), and the data stays as it is."""
    TechnologyFactory.create_batch(3, tags=["python"])
    postgres.dump(pg, target)
    Technology.objects.all().delete()
    before = content()
    target.write_bytes(target.read_bytes()[:-4])  # the 4-byte content checksum closes the frame

    with pytest.raises(BackupError, match="truncated"):
        postgres.restore(pg, target)

    assert content() == before


def test_it_rejects_a_damaged_frame_and_leaves_the_data_unchanged(pg: dict[str, Any], target: Path) -> None:
    TechnologyFactory.create_batch(5, tags=["python"])
    postgres.dump(pg, target)
    Technology.objects.filter(title__isnull=False).delete()
    before = content()
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))

    with pytest.raises(BackupError, match=r"is damaged|pg_restore failed"):
        postgres.restore(pg, target)

    assert content() == before


def test_it_reports_pg_restores_error_when_the_archive_inside_is_not_one(pg: dict[str, Any], target: Path) -> None:
    TechnologyFactory.create(title="Stays")
    before = content()
    target.parent.mkdir(parents=True)
    target.write_bytes(zstandard.ZstdCompressor().compress(b"not a pg_dump archive\n" * 200_000))

    with pytest.raises(BackupError, match=r"pg_restore failed \(exit code 1\):.*(archive|input file)"):
        postgres.restore(pg, target)

    assert content() == before


def test_it_restores_an_uncompressed_archive_of_an_earlier_version(
    pg: dict[str, Any], target: Path, tmp_path: Path
) -> None:
    TechnologyFactory.create(title="In the plain archive", tags=["legacy"])
    plain = tmp_path / "20250101_020000.dump"
    completed = subprocess.run(
        [
            postgres.find_tool("pg_dump"),
            "--format=custom",
            f"--file={plain}",
            make_conninfo("", **postgres.connection_params(pg)),
        ],
        env=pgtools.tool_env(pg),
        capture_output=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    before = content()
    Technology.objects.all().delete()

    counts = postgres.restore(pg, plain)
    report = postgres.verify(pg, plain, counts)

    assert content() == before
    assert counts["public.technologies_technology"] == 1
    assert report["ok"] is True


def test_verify_passes_on_a_good_dump_fails_on_other_counts_and_drops_its_database(
    pg: dict[str, Any], target: Path
) -> None:
    TechnologyFactory.create_batch(4, tags=["verify"])
    result = postgres.dump(pg, target)
    expected = result.details["row_counts"]
    messages: list[str] = []

    good = postgres.verify(pg, target, expected, progress=messages.append)
    wrong = postgres.verify(pg, target, {**expected, "public.technologies_technology": 5, "public.gone": 1})

    assert good["ok"] is True
    assert good["mismatches"] == {}
    assert good["row_counts"] == expected
    assert good["database"].startswith(f"{pg['NAME'][:40]}_verify_")
    assert "restoring table public.technologies_technology" in messages
    assert wrong["ok"] is False
    assert wrong["mismatches"] == {
        "public.gone": {"expected": 1, "actual": None},
        "public.technologies_technology": {"expected": 5, "actual": 4},
    }
    assert scratch_databases(pg) == []


def test_verify_of_a_damaged_dump_raises_and_drops_its_database(pg: dict[str, Any], target: Path) -> None:
    TechnologyFactory.create_batch(3)
    result = postgres.dump(pg, target)
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])

    with pytest.raises(BackupError, match="truncated"):
        postgres.verify(pg, target, result.details["row_counts"])

    assert scratch_databases(pg) == []


def test_connection_params_keep_libpq_options_and_drop_djangos() -> None:
    db = {
        "NAME": "app",
        "USER": "app",
        "PASSWORD": "secret",
        "HOST": "db.internal",
        "PORT": 5433,
        "OPTIONS": {"sslmode": "verify-full", "sslrootcert": "/ca.pem", "pool": True, "isolation_level": 1},
    }

    params = postgres.connection_params(db)

    assert params == {
        "dbname": "app",
        "user": "app",
        "host": "db.internal",
        "port": "5433",
        "sslmode": "verify-full",
        "sslrootcert": "/ca.pem",
        "connect_timeout": "10",
        "application_name": "commandcenter-backup",
    }
    assert "secret" not in make_conninfo("", **params)
    assert postgres.connection_params(db, dbname="postgres")["dbname"] == "postgres"


def test_scratch_databases_left_by_a_killed_drill_are_dropped(postgres_url):
    db = connection.settings_dict
    stale = postgres.scratch_database_name(str(db["NAME"]))
    other = "unrelated_verify_deadbeef"
    with psycopg.connect(make_conninfo(**postgres.connection_params(db, dbname="postgres")), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(stale)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(other)))
    try:
        assert postgres.drop_stale_scratch_databases(db) == [stale]
    finally:
        with psycopg.connect(
            make_conninfo(**postgres.connection_params(db, dbname="postgres")), autocommit=True
        ) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(other)))
            names = {r[0] for r in admin.execute("SELECT datname FROM pg_database").fetchall()}
    assert stale not in names
