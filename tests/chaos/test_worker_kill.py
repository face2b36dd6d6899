"""Celery workers killed mid-job.

- A worker *child* SIGKILLed in the middle of a document ingestion: the job goes back to the
  queue at once (``acks_late`` + ``reject_on_worker_lost``), runs again and leaves exactly one
  set of chunks in the Chroma server (stable chunk ids: the second run overwrites).
- A *whole* worker (main process and children) SIGKILLed in the middle of a backup, as an OOM
  kill of its container or a power cut does: nobody is left to give the job back, so Redis
  holds it as unacknowledged. A worker restarted at once leaves it there; once
  ``visibility_timeout`` (``CELERY_VISIBILITY_TIMEOUT``, 10 s here, 2 hours by default) has
  passed, a starting worker restores it, and it completes once.

The same fault for the other jobs is tested beside them: a backup in
``apps/backups/tests/test_worker_kill.py``, a research run in
``apps/research/tests/test_worker.py``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from apps.backups import services, tasks
from apps.backups.models import BackupRun
from apps.jobs.choices import JobState
from apps.jobs.models import Job
from apps.knowledge import index
from apps.knowledge.embeddings import current_model_name
from apps.knowledge.models import Document
from apps.knowledge.services import create_from_file
from apps.knowledge.tasks import ingest_document
from tests.celery_worker import pool_processes, wait_for
from tests.chaos.conftest import StartRedis
from tests.chaos.servers import Worker, chroma_server

pytestmark = [pytest.mark.chaos, pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

SECTIONS = 100
VISIBILITY_TIMEOUT = 10


def long_document() -> bytes:
    """About one chunk per section: enough embedding work to be killed in the middle of."""
    sentence = "Section {n} explains how the service {n} recovers after its queue and its database restart. "
    return "\n\n".join(f"## Part {n}\n\n" + sentence.format(n=n) * 11 for n in range(SECTIONS)).encode()


@pytest.fixture
def shared_index(settings, tmp_path: Path) -> Iterator[str]:
    """A Chroma server used by the worker (which writes) and this process (which counts)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BACKUP_DIR = tmp_path / "backups"  # the index write lock lives there
    with chroma_server(tmp_path / "chroma") as url:
        settings.CHROMA_URL = url
        index.reset_clients()
        try:
            yield url
        finally:
            index.reset_clients()


def test_a_worker_child_killed_mid_ingestion_leaves_one_set_of_chunks(
    shared_index: str, start_worker: Callable[..., Path], redis_broker: str, settings
):
    log = start_worker(
        CHROMA_URL=shared_index, MEDIA_ROOT=str(settings.MEDIA_ROOT), BACKUP_DIR=str(settings.BACKUP_DIR)
    )
    document = create_from_file(ContentFile(long_document(), name="recovery.md")).document
    job_id = ingest_document.delay(document.pk).id

    # The child loads the embedding model right before it embeds the chunks.
    wait_for(lambda: "embedding_model_loaded" in log.read_text(), 60, "the ingestion to start", log=log)
    time.sleep(1.0)  # well into the embedding, which takes several seconds
    children = pool_processes(redis_broker)
    assert len(children) == 1, children
    os.kill(children[0], signal.SIGKILL)
    document.refresh_from_db()
    assert document.status == "pending", "the ingestion ended before the kill: make the document longer"

    def indexed() -> bool:
        document.refresh_from_db()
        return document.status == "indexed"

    wait_for(indexed, 180, "the redelivered ingestion to finish", interval=0.3, log=log)
    worker_log = log.read_text()
    assert "signal 9 (SIGKILL)" in worker_log
    assert worker_log.count(f"[{job_id}] received") == 2

    model = current_model_name()
    stored = index.collection(model).get(where={"document_id": document.pk}, include=[])
    assert sorted(stored["ids"]) == sorted(index.chunk_id(document.pk, n) for n in range(document.chunk_count))
    assert document.chunk_count >= SECTIONS
    assert index.count(model) == document.chunk_count
    assert Document.objects.count() == 1
    wait_for(lambda: Job.objects.get(task_id=job_id).state == JobState.SUCCEEDED, 30, "the job", log=log)


def test_a_whole_worker_killed_mid_backup_gets_its_job_back_after_the_visibility_timeout(
    start_redis: StartRedis,
    publish_to: Callable[[str, str], None],
    start_worker_on: Callable[..., Worker],
    queue: str,
    settings,
    tmp_path: Path,
):
    backups, media = tmp_path / "backups", tmp_path / "media"
    settings.BACKUP_DIR, settings.MEDIA_ROOT = backups, media
    media.mkdir()
    # Incompressible bytes keep the archive step busy for a few seconds: time to kill it.
    (media / "large.bin").write_bytes(os.urandom(30 * 1024 * 1024))
    redis = start_redis(appendonly=False)
    broker = redis.client()
    publish_to(redis.url(0), queue)
    env = {
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "BACKUP_DIR": str(backups),
        "MEDIA_ROOT": str(media),
        "CHROMA_PATH": str(tmp_path / "chroma"),
        "REDIS_URL": "",
    }
    first = start_worker_on(redis.url(0), **env)
    job_id = tasks.run_backup.delay("api").id

    def archive_in_progress() -> bool:
        return (backups / "rag").is_dir() and any((backups / "rag").glob(".*.tmp-*"))

    wait_for(archive_in_progress, 90, "the archive to be written", log=first.log)
    first.kill()
    assert not first.pool()

    # Nobody acknowledged the job and nobody gave it back: Redis holds it, out of the queue.
    unacked: list[tuple[bytes, float]] = broker.zrange("unacked_index", 0, -1, withscores=True)  # type: ignore[assignment]
    [(_tag, delivered_at)] = unacked
    assert broker.hlen("unacked") == 1
    assert broker.llen(queue) == 0
    killed = BackupRun.objects.get()
    assert killed.status == "running"

    # A worker restarted at once (as Docker does) leaves it there: too young to be restored.
    restarted = start_worker_on(redis.url(0), **env)
    wait_for(lambda: " ready." in restarted.log.read_text(), 30, "the restarted worker", log=restarted.log)
    time.sleep(1)
    assert time.time() < delivered_at + VISIBILITY_TIMEOUT, "the worker took too long to start for this check"
    assert broker.hlen("unacked") == 1
    assert BackupRun.objects.count() == 1
    restarted.stop()

    # Past the timeout, the next worker to look (here, at its start) gives it back to the queue.
    wait_for(lambda: time.time() > delivered_at + VISIBILITY_TIMEOUT + 0.5, VISIBILITY_TIMEOUT + 5, "the timeout")
    assert broker.hlen("unacked") == 1
    second = start_worker_on(redis.url(0), **env)

    def succeeded() -> BackupRun | None:
        return BackupRun.objects.filter(status="succeeded").first()

    run = wait_for(succeeded, 120, "the restored backup to complete", log=second.log)
    assert run.started_at.timestamp() >= delivered_at + VISIBILITY_TIMEOUT
    assert [s.timestamp for s in services.list_sets() if s.complete] == [run.timestamp]
    assert not list(backups.rglob(".*.tmp-*"))
    killed.refresh_from_db()
    assert killed.status == "failed"
    assert "interrupted" in killed.error
    assert BackupRun.objects.count() == 2
    job = wait_for(lambda: Job.objects.filter(task_id=job_id, state=JobState.SUCCEEDED).first(), 30, "the job")
    assert job.worker.startswith("chaos2@")
    # Acknowledged (by the worker's main process, just after the job ended), nothing queued again.
    wait_for(lambda: broker.hlen("unacked") == 0, 30, "the acknowledgement", log=second.log)
    assert broker.llen(queue) == 0
