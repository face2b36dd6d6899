"""The disk of BACKUP_DIR full in the middle of a backup: the run fails with an error that
says so and names the place, nothing partial is left (no temporary file, no set without its
manifest, no file of the failed set), and ``commandcenter_backup_failures_total`` (which the
BackupFailed alert watches) goes up.

The first test writes to a real 4 MiB tmpfs, so the ENOSPC comes from the kernel. The second
makes the very last write of a set (its manifest) fail with ENOSPC, raised in-process from the
file writer: a fault after every component file is already in place."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from apps.backups import files, services
from apps.backups.models import BackupRun
from apps.knowledge import index

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


def failures(component: str | None = None) -> float:
    """``commandcenter_backup_failures_total`` of ``component``, or of all of them."""
    return sum(
        sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == "commandcenter_backup_failures_total"
        and (component is None or sample.labels.get("component") == component)
    )


def leftovers(backup_dir: Path) -> list[Path]:
    """Everything under BACKUP_DIR but its lock files."""
    return sorted(p for p in backup_dir.rglob("*") if p.is_file() and p.name not in {".lock", ".index-write.lock"})


@pytest.fixture
def backup_site(transactional_db: None, settings, tmp_path: Path) -> Iterator[Path]:
    """Media to back up and an embedded Chroma store of the test's own; the Redis component off."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHROMA_PATH = tmp_path / "chroma"
    settings.CHROMA_URL = ""
    settings.REDIS_URL = ""
    settings.MEDIA_ROOT.mkdir()
    index.reset_clients()
    yield settings.MEDIA_ROOT
    index.reset_clients()


def test_a_full_disk_fails_the_backup_cleanly(backup_site: Path, small_disk: Path, settings):
    settings.BACKUP_DIR = small_disk
    (backup_site / "scan.bin").write_bytes(os.urandom(8 * 1024 * 1024))  # twice the disk
    before = failures("rag")

    with pytest.raises(OSError, match="No space left on device") as raised:
        services.run_backup(trigger="manual")

    assert raised.value.errno == errno.ENOSPC
    run = BackupRun.objects.get()
    assert run.status == "failed"
    assert run.error.startswith(
        f"rag: disk full (No space left on device) on the file system holding BACKUP_DIR ({small_disk})"
    )
    assert failures("rag") == before + 1
    assert leftovers(small_disk) == []
    assert services.list_sets() == []
    assert os.statvfs(small_disk).f_bfree == os.statvfs(small_disk).f_blocks  # the space is free again


def test_a_full_disk_at_the_manifest_removes_the_whole_set(
    backup_site: Path, settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    settings.BACKUP_DIR = tmp_path / "backups"
    (backup_site / "notes.txt").write_text("kept in the archive")
    real_write = files.HashingWriter.write
    in_place: list[str] = []

    def write(self: files.HashingWriter, data: bytes) -> int:
        if b'"format": 1' in data and b'"components"' in data:  # the manifest, written last
            in_place.extend(p.parent.name for p in leftovers(settings.BACKUP_DIR) if not p.name.startswith("."))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(self, data)

    monkeypatch.setattr(files.HashingWriter, "write", write)
    before = failures()

    with pytest.raises(OSError, match="No space left on device"):
        services.run_backup(trigger="manual")

    run = BackupRun.objects.get()
    assert run.status == "failed"
    assert f"disk full (No space left on device) on the file system holding BACKUP_DIR ({settings.BACKUP_DIR})" in (
        run.error
    )
    assert failures() == before + 1
    assert sorted(in_place) == ["postgres", "rag"]  # every component was written, then removed
    assert leftovers(settings.BACKUP_DIR) == []
    assert services.list_sets() == []
