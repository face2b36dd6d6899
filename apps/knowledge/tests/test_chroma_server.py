"""Client/server mode: a real `chroma run` server, ingestion in a Celery worker process,
search from this process — the way the web server and workers share one index."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from apps.knowledge import index, services
from apps.knowledge.models import Document
from apps.knowledge.tasks import ingest_document
from tests.live import free_port

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    store = tmp_path / "server"
    env = {**os.environ, "CHROMA_PATH": str(store), "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "run_chroma", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        import urllib.request

        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("chroma run did not start") from None
                time.sleep(0.3)
        # The server holds the store's lock: no other process may open the store directly.
        with pytest.raises(index.StoreInUse):
            index.lock_store(store)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_worker_ingests_and_another_process_queries(chroma_server, start_worker, settings):
    settings.CHROMA_URL = chroma_server
    index.reset_clients()
    start_worker(CHROMA_URL=chroma_server, MEDIA_ROOT=str(settings.MEDIA_ROOT))
    text = b"# Traefik TLS\n\nTraefik obtains certificates from Let's Encrypt through the ACME protocol."
    created = services.create_from_file(ContentFile(text, name="traefik.md"))
    ingest_document.delay(created.document.pk)
    deadline = time.monotonic() + 60
    while Document.objects.get(pk=created.document.pk).status == "pending":
        assert time.monotonic() < deadline, "the worker did not index the document"
        time.sleep(0.3)
    document = Document.objects.get(pk=created.document.pk)
    assert document.status == "indexed", document.error
    passages = services.search("where do the HTTPS certificates come from?")
    assert passages[0]["document_id"] == document.pk
    assert "ACME" in passages[0]["chunk"]
    assert "server http://127.0.0.1" in index.heartbeat()
