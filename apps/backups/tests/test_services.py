"""Backup sets end to end on the test database (SQLite locally, PostgreSQL in CI), the
knowledge index on disk and the uploaded files."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.test import Client
from prometheus_client import REGISTRY

from apps.backups import services
from apps.backups.engines.common import BackupError
from apps.backups.models import BackupRun
from apps.backups.tests.test_engine_redis import start_redis  # noqa: F401  (a fixture)
from apps.knowledge import index
from apps.knowledge import services as knowledge
from apps.technologies.models import Technology
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db(transaction=True)
COMPONENTS = ["postgres", "rag"]


@pytest.fixture(autouse=True)
def isolated(settings, tmp_path: Path):
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHROMA_PATH = tmp_path / "chroma"
    settings.CHROMA_URL = ""
    settings.REDIS_URL = ""
    index.reset_clients()
    yield
    index.reset_clients()


def titles() -> set[str]:
    return set(Technology.objects.values_list("title", flat=True))


def add_document(text: bytes, name: str) -> int:
    created = knowledge.create_from_file(ContentFile(text, name=name))
    assert knowledge.ingest(created.document.pk)["status"] == "indexed"
    return created.document.pk


def test_a_backup_is_a_complete_set_with_a_manifest_written_last(settings):
    TechnologyFactory.create_batch(3)
    add_document(b"# Loki\n\nLoki keeps logs for thirty days.", "loki.md")
    run = services.run_backup(components=COMPONENTS)
    assert run.status == "succeeded"
    manifest = services.read_manifest(run.timestamp)
    assert set(manifest["components"]) == set(COMPONENTS)
    for component in COMPONENTS:
        for entry in manifest["components"][component]["files"]:
            path = Path(settings.BACKUP_DIR) / entry["path"]
            assert path.stat().st_size == entry["size"]
            assert path.parent.name == component
            assert path.name.startswith(run.timestamp)
    assert manifest["components"]["postgres"]["row_counts"]
    assert run.size_bytes == sum(f["size"] for c in manifest["components"].values() for f in c["files"])
    assert not list(Path(settings.BACKUP_DIR).rglob(".*.tmp-*"))
    stamp = REGISTRY.get_sample_value("commandcenter_backup_last_success_timestamp_seconds", {"component": "rag"})
    assert stamp is not None
    assert stamp > 0


def test_round_trip_restores_rows_index_and_files(settings):
    TechnologyFactory.create(title="Kept", tags=["a"])
    doc_id = add_document(b"# Redis\n\nRedis evicts keys when memory is full.", "redis.md")
    before = titles()
    top_before = knowledge.search("what happens when memory runs out?")[0]
    run = services.run_backup(components=COMPONENTS)

    Technology.objects.all().delete()
    TechnologyFactory.create(title="Added after the backup")
    knowledge.delete(knowledge.Document.objects.get(pk=doc_id))  # its chunks leave the index on commit
    assert knowledge.search("what happens when memory runs out?") == []

    report = services.restore(run.timestamp, safety_backup=True)
    index.reset_clients()
    assert report["safety_backup"] != run.timestamp
    assert services.read_manifest(report["safety_backup"])  # the state before, kept
    assert titles() == before
    assert Technology.objects.get(title="Kept").tags.filter(name="a").exists()
    top_after = knowledge.search("what happens when memory runs out?")[0]
    assert (top_after["document_id"], top_after["chunk"]) == (top_before["document_id"], top_before["chunk"])
    assert (Path(settings.MEDIA_ROOT) / "knowledge" / "redis.md").exists()


@pytest.mark.parametrize("damage", ["flip", "truncate", "manifest"])
def test_a_damaged_set_is_refused_and_nothing_is_touched(settings, damage):
    TechnologyFactory.create(title="Original")
    run = services.run_backup(components=COMPONENTS)
    TechnologyFactory.create(title="Live change")
    assert run.manifest is not None
    entry = run.manifest["components"]["postgres"]["files"][0]
    path = Path(settings.BACKUP_DIR) / entry["path"]
    if damage == "flip":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        message = "SHA-256"
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
        message = "bytes"
    else:
        services.manifest_path(run.timestamp).unlink()
        message = "incomplete"
    with pytest.raises(BackupError, match=message):
        services.restore(run.timestamp, safety_backup=False)
    assert titles() == {"Original", "Live change"}
    out = StringIO()
    with pytest.raises(CommandError, match=message):
        call_command("restore", run.timestamp, "--yes", stdout=out, stderr=StringIO())


def test_a_failing_component_leaves_no_set_behind(settings, monkeypatch):
    TechnologyFactory.create()
    real_dump = services._dump
    failures = REGISTRY.get_sample_value("commandcenter_backup_failures_total", {"component": "rag"}) or 0

    def dump(component, target, progress):
        if component == "rag":
            raise OSError(28, "No space left on device")
        return real_dump(component, target, progress)

    monkeypatch.setattr(services, "_dump", dump)
    with pytest.raises(OSError, match="No space left"):
        services.run_backup(components=COMPONENTS)
    assert [p for p in Path(settings.BACKUP_DIR).rglob("*") if p.is_file() and p.name != ".lock"] == []
    run = BackupRun.objects.get()
    assert run.status == "failed"
    assert "rag" in run.error
    assert "No space left" in run.error
    assert REGISTRY.get_sample_value("commandcenter_backup_failures_total", {"component": "rag"}) == failures + 1


def test_only_one_backup_or_restore_at_a_time():
    with services.exclusive("test"):
        with pytest.raises(services.BackupBusy, match="another backup or restore is running"):
            services.run_backup(components=["postgres"])
        with pytest.raises(CommandError, match="another backup or restore is running"):
            call_command("backup", stdout=StringIO(), stderr=StringIO())
    assert services.run_backup(components=["postgres"]).status == "succeeded"


@pytest.mark.parametrize("bad", ["../../etc/passwd", "2026", "20261126_020000/../x", "latest"])
def test_timestamps_are_checked(bad):
    with pytest.raises(BackupError, match="invalid backup timestamp"):
        services.restore(bad)
    with pytest.raises(CommandError, match="invalid backup timestamp"):
        call_command("restore", bad, "--yes", stdout=StringIO(), stderr=StringIO())


def write_fake_set(stamp: str, complete: bool = True) -> None:
    folder = services.backup_dir()
    (folder / "postgres").mkdir(parents=True, exist_ok=True)
    (folder / "postgres" / f"{stamp}.dump").write_bytes(b"x")
    if complete:
        (folder / "manifests").mkdir(exist_ok=True)
        entry = {"path": f"postgres/{stamp}.dump", "size": 1, "sha256": "0"}
        manifest = {"timestamp": stamp, "components": {"postgres": {"files": [entry]}}}
        services.manifest_path(stamp).write_text(json.dumps(manifest))


def test_retention_by_age_keeps_the_newest_complete_set(settings):
    settings.RETENTION_DAYS = 30
    now = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    for days in (40, 35, 31):
        write_fake_set((now - timedelta(days=days)).strftime("%Y%m%d_%H%M%S"))
    write_fake_set((now - timedelta(days=2)).strftime("%Y%m%d_%H%M%S"), complete=False)  # crashed run
    write_fake_set((now - timedelta(hours=3)).strftime("%Y%m%d_%H%M%S"), complete=False)  # maybe running
    assert len(services.prune(dry_run=True, now=now)) == 3
    assert len(services.list_sets()) == 5
    removed = services.prune(now=now)
    remaining = [s.timestamp for s in services.list_sets()]
    assert len(removed) == 3
    assert (now - timedelta(days=31)).strftime("%Y%m%d_%H%M%S") in remaining  # the newest complete one
    assert (now - timedelta(hours=3)).strftime("%Y%m%d_%H%M%S") in remaining
    # Once a newer complete set exists, the old one goes too.
    write_fake_set((now - timedelta(days=1)).strftime("%Y%m%d_%H%M%S"))
    services.prune(now=now)
    assert len(services.list_sets()) == 2


def test_verify_is_a_restore_drill():
    TechnologyFactory.create_batch(2)
    add_document(b"# Celery\n\nRetries need idempotent tasks.", "celery.md")
    run = services.run_backup(components=COMPONENTS)
    report = services.verify()
    assert report["ok"], report
    assert report["timestamp"] == run.timestamp
    run.refresh_from_db()
    assert run.verification == "passed"
    assert (REGISTRY.get_sample_value("commandcenter_backup_last_verified_timestamp_seconds") or 0) > 0
    out = StringIO()
    call_command("verify_backup", stdout=out, stderr=StringIO())
    assert f"backup {run.timestamp} verified" in out.getvalue()


def test_commands_list_backup_and_restore(settings):
    TechnologyFactory.create(title="Before")
    out = StringIO()
    call_command("backup", "--only", "postgres,rag", stdout=out, stderr=StringIO())
    assert "complete: postgres, rag" in out.getvalue()
    stamp = services.latest_complete()
    listing = StringIO()
    call_command("list_backups", stdout=listing)
    assert stamp in listing.getvalue()
    assert "complete" in listing.getvalue()
    Technology.objects.all().delete()
    restored = StringIO()
    call_command("restore", "--yes", "--no-safety-backup", "--only", "postgres", stdout=restored, stderr=StringIO())
    assert f"restore of {stamp} complete" in restored.getvalue()
    assert "technologies.technology" in restored.getvalue() or "technologies_technology" in restored.getvalue()
    assert titles() == {"Before"}
    assert len(services.list_sets()) == 1  # no safety backup was taken


def test_restore_asks_before_replacing_data(monkeypatch):
    services.run_backup(components=["postgres"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(CommandError, match="confirm with --yes"):
        call_command("restore", stdout=StringIO(), stderr=StringIO())


def test_health_reports_backup_age(settings):
    assert Client().get("/health").json()["checks"]["backups"]["status"] == "warn"
    run = services.run_backup(components=["postgres"])
    check = Client().get("/health").json()["checks"]["backups"]
    assert check["status"] == "ok"
    assert run.timestamp in check["detail"]
    assert run.finished_at is not None
    BackupRun.objects.filter(pk=run.pk).update(finished_at=run.finished_at - timedelta(hours=27))
    body = Client().get("/health").json()
    assert body["checks"]["backups"]["status"] == "warn"
    assert body["status"] == "degraded"


def test_api_lists_runs_for_staff_and_starts_backups(api, client_for, make_user):
    run = services.run_backup(components=["postgres"])
    listed = api.get("/api/v1/backups/").json()
    assert listed["results"][0]["timestamp"] == run.timestamp
    assert api.get(f"/api/v1/backups/{run.timestamp}/").json()["status"] == "succeeded"
    response = api.post("/api/v1/backups/")
    assert response.status_code == 202
    assert response.json()["url"].startswith("/api/v1/jobs/")
    assert client_for(make_user()).get("/api/v1/backups/").status_code == 403


def test_the_lock_file_frees_itself_when_its_holder_dies(settings, tmp_path):
    import subprocess
    import sys

    folder = services.backup_dir()
    folder.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
            "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
            str(folder / ".lock"),
        ],
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == b"locked"
    with pytest.raises(services.BackupBusy):
        services.run_backup(components=["postgres"])
    os.kill(holder.pid, 9)
    holder.wait()
    assert services.run_backup(components=["postgres"]).status == "succeeded"


def test_leftovers_of_a_dead_run_are_cleaned_by_the_next_one(settings):
    folder = services.backup_dir() / "postgres"
    folder.mkdir(parents=True)
    leftover = folder / ".20261126_020000.dump.tmp-4242"
    leftover.write_bytes(b"half a dump")
    dead = BackupRun.objects.create(timestamp="20261126_020000", status="running")
    run = services.run_backup(components=["postgres"])
    assert run.status == "succeeded"
    assert not leftover.exists()
    dead.refresh_from_db()
    assert dead.status == "failed"
    assert "interrupted" in dead.error


def every_row() -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of the database, in a stable order."""
    from django.db import connection

    rows = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (introspected names)
            rows[table] = sorted(cursor.fetchall(), key=repr)
    return rows


def test_full_round_trip_of_every_table_the_index_files_and_redis(settings, start_redis):  # noqa: F811
    import redis as redis_py

    from apps.research.tests.factories import ResearchTaskFactory

    settings.REDIS_URL = start_redis()
    live = redis_py.Redis.from_url(settings.REDIS_URL)
    live.set("session:abc", "kept", ex=3600)
    live.hset("cache:stats", mapping={"hits": 3})
    tech = TechnologyFactory.create(title="Everything", tags=["x", "y"])
    ResearchTaskFactory.create(title="Task", technology=tech)
    add_document(b"# Traefik\n\nTraefik renews certificates through ACME.", "traefik.md")
    top = knowledge.search("who renews the certificates?")[0]
    run = services.run_backup()
    assert set(run.components) == {"postgres", "rag", "redis"}
    before = every_row()
    del before["backups_backuprun"]  # the run history is reconciled with the sets on disk

    TechnologyFactory.create(title="Added later")
    Technology.objects.filter(title="Everything").update(priority=5)
    live.flushdb()
    live.set("stray", "1")

    report = services.restore(run.timestamp, safety_backup=False)
    index.reset_clients()
    after = every_row()
    del after["backups_backuprun"]
    assert after == before
    assert report["runs_reconciled"] >= 1
    assert BackupRun.objects.get(timestamp=run.timestamp).status == "succeeded"  # not "running" as dumped
    assert live.get("session:abc") == b"kept"
    assert 0 < live.ttl("session:abc") <= 3600
    assert live.hget("cache:stats", "hits") == b"3"
    assert live.get("stray") is None
    again = knowledge.search("who renews the certificates?")[0]
    assert (again["document_id"], again["chunk"]) == (top["document_id"], top["chunk"])
