"""A worker child SIGKILLed in the middle of a backup: no complete-looking set, the lock is
free again, and the redelivered job (acks_late + reject_on_worker_lost) completes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from apps.backups import services, tasks
from apps.backups.models import BackupRun
from tests.celery_worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.chaos]


def test_a_killed_backup_is_redelivered_and_completes_once(start_worker, settings, tmp_path: Path):
    backups, media = tmp_path / "backups", tmp_path / "media"
    settings.BACKUP_DIR, settings.MEDIA_ROOT = backups, media
    media.mkdir()
    # Incompressible bytes keep the archive step busy for a few seconds: time to kill it.
    (media / "large.bin").write_bytes(os.urandom(80 * 1024 * 1024))
    start_worker(
        BACKUP_DIR=str(backups),
        MEDIA_ROOT=str(media),
        CHROMA_PATH=str(tmp_path / "chroma"),
        REDIS_URL="",
    )
    tasks.run_backup.delay("api")

    def archive_in_progress() -> Path | None:
        return next((backups / "rag").glob(".*.tmp-*"), None) if (backups / "rag").is_dir() else None

    partial = wait_for(archive_in_progress, 60, "the archive to be written", interval=0.05)
    pid = int(partial.name.rsplit("-", 1)[1])
    os.kill(pid, signal.SIGKILL)

    def finished() -> bool:
        return BackupRun.objects.filter(status="succeeded").exists()

    wait_for(finished, 120, "the redelivered backup to complete")
    complete = [s for s in services.list_sets() if s.complete]
    assert len(complete) == 1
    assert not list(backups.rglob(".*.tmp-*"))
    killed = BackupRun.objects.exclude(status="succeeded").get()
    assert killed.status == "failed"
    assert "interrupted" in killed.error
    assert BackupRun.objects.filter(status="succeeded").count() == 1
    with services.exclusive("check the lock"):  # free again
        pass
