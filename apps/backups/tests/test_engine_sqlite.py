"""The SQLite engine (the embedded default): online backup API dump, restore in place, verify."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from apps.backups.engines import sqlite
from apps.backups.engines.common import BackupError
from apps.backups.files import sha256_file

ODD_TABLE = 'odd "table" name'


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@pytest.fixture
def live(tmp_path: Path) -> dict[str, Any]:
    """A file database set up like the project's (WAL) with a few related tables."""
    path = tmp_path / "var" / "db.sqlite3"
    path.parent.mkdir()
    conn = connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(
        f"""
        CREATE TABLE tag (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE technology (id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE, notes TEXT);
        CREATE TABLE technology_tags (
            technology_id INTEGER NOT NULL REFERENCES technology (id) ON DELETE CASCADE,
            tag_id INTEGER NOT NULL REFERENCES tag (id) ON DELETE CASCADE
        );
        CREATE TABLE "{ODD_TABLE.replace('"', '""')}" (value TEXT);
        """
    )
    conn.executemany("INSERT INTO tag (name) VALUES (?)", [("python",), ("database",), ("web",)])
    conn.executemany(
        "INSERT INTO technology (title, notes) VALUES (?, ?)", [(f"Technology {n}", "x" * 500) for n in range(200)]
    )
    conn.execute("INSERT INTO technology_tags SELECT t.id, g.id FROM technology t, tag g WHERE t.id % 7 = 0")
    conn.close()
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return tmp_path / "backups" / "20260101_020000" / "postgres" / "db.sqlite3"


def content(path: Path) -> dict[str, Any]:
    conn = connect(path)
    try:
        return {
            "technologies": sorted(conn.execute("SELECT id, title, notes FROM technology")),
            "tags": sorted(conn.execute("SELECT id, name FROM tag")),
            "tagged": sorted(conn.execute("SELECT technology_id, tag_id FROM technology_tags")),
        }
    finally:
        conn.close()


def test_it_round_trips_the_database(live: dict[str, Any], target: Path) -> None:
    before = content(live["NAME"])
    messages: list[str] = []

    result = sqlite.dump(live, target, progress=messages.append)

    assert result.details == {
        "engine": "sqlite",
        "sqlite_version": sqlite3.sqlite_version,
        "row_counts": {
            'main.odd "table" name': 0,
            "main.tag": 3,
            "main.technology": 200,
            "main.technology_tags": 84,
        },
    }
    assert messages == ["copying db.sqlite3"]
    [written] = result.files
    assert (written.path, written.size, written.sha256) == (target, target.stat().st_size, sha256_file(target))
    # A single self-contained file: no -wal/-shm next to it, no temporary file left.
    assert sorted(p.name for p in target.parent.iterdir()) == ["db.sqlite3"]
    copy = sqlite3.connect(target)
    assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    copy.close()

    # A process that keeps the database open (the web server) sees the restored content.
    server = connect(live["NAME"])
    server.execute("DELETE FROM technology WHERE id > 100")
    server.execute("UPDATE tag SET name = 'renamed' WHERE name = 'web'")
    server.execute("INSERT INTO tag (name) VALUES ('late')")
    assert content(live["NAME"]) != before

    counts = sqlite.restore(live, target)

    assert counts == result.details["row_counts"]
    assert content(live["NAME"]) == before
    assert server.execute("SELECT count(*) FROM technology").fetchone() == (200,)
    assert server.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    server.execute("INSERT INTO tag (name) VALUES ('after the restore')")
    server.close()


def test_it_dumps_committed_rows_while_a_writer_holds_a_transaction(live: dict[str, Any], target: Path) -> None:
    writer = connect(live["NAME"])
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO tag (name) VALUES ('uncommitted')")

    result = sqlite.dump(live, target)

    writer.execute("COMMIT")
    writer.close()
    assert result.details["row_counts"]["main.tag"] == 3
    assert sqlite.verify(live, target, result.details["row_counts"])["ok"] is True


def test_verify_passes_on_a_good_dump_and_reports_other_counts(live: dict[str, Any], target: Path) -> None:
    expected = sqlite.dump(live, target).details["row_counts"]

    good = sqlite.verify(live, target, expected)
    wrong = sqlite.verify(live, target, {**expected, "main.tag": 4, "main.gone": 1})

    assert good == {"ok": True, "mismatches": {}, "row_counts": expected}
    assert wrong["ok"] is False
    assert wrong["mismatches"] == {
        "main.gone": {"expected": 1, "actual": None},
        "main.tag": {"expected": 4, "actual": 3},
    }


def test_a_damaged_backup_is_refused_and_the_live_database_is_unchanged(live: dict[str, Any], target: Path) -> None:
    expected = sqlite.dump(live, target).details["row_counts"]
    conn = connect(live["NAME"])
    conn.execute("DELETE FROM technology WHERE id > 150")
    conn.close()
    before = content(live["NAME"])
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])

    with pytest.raises(BackupError, match=r"damaged|not a readable SQLite database"):
        sqlite.verify(live, target, expected)
    with pytest.raises(BackupError, match=r"damaged|not a readable SQLite database"):
        sqlite.restore(live, target)

    assert content(live["NAME"]) == before


def test_a_file_that_is_not_a_database_is_refused(live: dict[str, Any], tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sqlite3"
    bogus.write_bytes(b"not a database at all" * 100)

    with pytest.raises(BackupError, match="not a readable SQLite database"):
        sqlite.restore(live, bogus)
    with pytest.raises(BackupError, match="no SQLite backup"):
        sqlite.verify(live, tmp_path / "missing.sqlite3", {})


def test_a_restore_gives_up_when_a_writer_keeps_the_lock(live: dict[str, Any], target: Path) -> None:
    sqlite.dump(live, target)
    writer = connect(live["NAME"])
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM tag WHERE name = 'web'")
    started = time.monotonic()

    with pytest.raises(BackupError, match="locked"):
        sqlite.restore(live, target, lock_timeout=0.5)

    assert time.monotonic() - started < 5
    writer.execute("COMMIT")
    writer.close()
    assert [name for _, name in content(live["NAME"])["tags"]] == ["python", "database"]


def test_it_refuses_databases_that_are_not_files(target: Path, tmp_path: Path) -> None:
    for name in (":memory:", "file:memorydb_default?mode=memory&cache=shared", ""):
        with pytest.raises(BackupError, match="not a plain file"):
            sqlite.dump({"NAME": name}, target)
    with pytest.raises(BackupError, match="does not exist"):
        sqlite.dump({"NAME": tmp_path / "missing.sqlite3"}, target)
    assert not target.parent.exists()
