"""Attachments ingested automatically, the commands, the admin, health and doctor checks."""

from __future__ import annotations

import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.test import Client

from apps.knowledge import index, services
from apps.knowledge.embeddings import current_model_name
from apps.knowledge.models import Document
from apps.research.models import ResearchTaskAttachment
from apps.research.tests.factories import ResearchTaskFactory
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db


def test_research_task_attachments_are_ingested(django_capture_on_commit_callbacks):
    tech = TechnologyFactory.create()
    task = ResearchTaskFactory.create(technology=tech)
    with django_capture_on_commit_callbacks(execute=True):
        attachment = ResearchTaskAttachment.objects.create(
            task=task, file=ContentFile(b"# Findings\n\nCelery retries need idempotent tasks.", name="findings.md")
        )
    document = Document.objects.get(attachment=attachment)
    assert document.source_type == "attachment"
    assert document.research_task == task
    assert document.technology == tech
    assert document.file.name == attachment.file.name  # the attachment's own file, not a copy
    assert services.ingest(document.pk)["status"] == "indexed"
    # Deleting the document keeps the attachment's file.
    with django_capture_on_commit_callbacks(execute=True):
        services.delete(document)
    assert Path(attachment.file.path).exists()


def test_unsupported_attachments_are_left_alone(django_capture_on_commit_callbacks):
    task = ResearchTaskFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        ResearchTaskAttachment.objects.create(task=task, file=ContentFile(b"\x89PNG\r\n\x1a\nxx", name="pic.png"))
    assert not Document.objects.exists()


def write_corpus(folder: Path) -> None:
    folder.mkdir()
    (folder / "a.md").write_text("# Alpha\n\nPrometheus scrapes metrics over HTTP.")
    (folder / "b.txt").write_text("Grafana draws dashboards from Prometheus data.")
    sub = folder / "sub"
    sub.mkdir()
    (sub / "c.html").write_text("<h1>Loki</h1><p>Loki stores logs by label.</p>")
    (sub / "d.png").write_bytes(b"\x89PNG\r\n\x1a\n")


def test_ingest_documents_command(tmp_path: Path):
    write_corpus(tmp_path / "docs")
    out, err = StringIO(), StringIO()
    call_command("ingest_documents", str(tmp_path / "docs"), "--category", "ops", stdout=out, stderr=err)
    assert "4 file(s): 3 indexed, 0 duplicate, 1 skipped, 0 failed" in out.getvalue()
    assert Document.objects.filter(status="indexed", category="ops").count() == 3
    again = StringIO()
    call_command("ingest_documents", str(tmp_path / "docs"), stdout=again, stderr=StringIO())
    assert "3 duplicate" in again.getvalue()
    assert Document.objects.count() == 3


def test_ingest_documents_refuses_missing_paths(tmp_path: Path):
    with pytest.raises(CommandError, match="no such file or folder"):
        call_command("ingest_documents", str(tmp_path / "nope"), stdout=StringIO(), stderr=StringIO())


def test_rebuild_recreates_the_index_from_the_documents(tmp_path: Path):
    write_corpus(tmp_path / "docs")
    call_command("ingest_documents", str(tmp_path / "docs"), stdout=StringIO(), stderr=StringIO())
    model = current_model_name()
    chunks = index.count(model)
    index.drop(model)
    assert index.count(model) == 0
    out = StringIO()
    call_command("rebuild_knowledge_index", stdout=out, stderr=StringIO())
    assert "3 indexed, 0 failed" in out.getvalue()
    assert index.count(model) == chunks
    assert services.search("where are logs stored?")[0]["title"] == "c"


def test_health_and_doctor_report_the_knowledge_base():
    body = Client().get("/health").json()
    assert body["checks"]["knowledge_index"]["status"] == "ok"
    assert body["checks"]["embedding_model"]["status"] == "ok"
    Document.objects.create(title="old", status="indexed", embedding_model="some-other-model")
    body = Client().get("/health").json()
    assert body["status"] == "degraded"
    assert "rebuild_knowledge_index" in body["checks"]["embedding_model"]["detail"]
    out = StringIO()
    call_command("doctor", "--skip-workers", stdout=out)
    assert "embedding_model" in out.getvalue()
    assert "warning" in out.getvalue()


def test_admin_search_page_and_reindex_action(client, superuser):
    client.force_login(superuser)
    created = services.create_from_file(
        ContentFile(b"# Redis\n\nRedis evicts keys under memory pressure.", name="r.md")
    )
    services.ingest(created.document.pk)
    page = client.get("/admin/knowledge/document/search/", {"query": "what happens when memory is full", "limit": 5})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Redis evicts keys" in html
    assert "score" in html
    listing = client.get("/admin/knowledge/document/")
    assert "Search the knowledge base" in listing.content.decode()
    response = client.post(
        "/admin/knowledge/document/",
        {"action": "reindex", "_selected_action": [created.document.pk]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("/api/v1/jobs/" in m for m in messages)


def test_an_embedded_store_is_opened_by_one_process_only(tmp_path: Path, settings):
    fd = index.lock_store(tmp_path / "store")
    settings.CHROMA_PATH = tmp_path / "store"
    try:
        with pytest.raises(index.StoreInUse, match="set CHROMA_URL"):
            index.lock_store(tmp_path / "store")
        with pytest.raises(CommandError, match="open in another process"):
            call_command("run_chroma", stdout=StringIO())
    finally:
        os.close(fd)


def test_health_warns_when_another_process_holds_the_embedded_store(settings):
    fd = index.lock_store(settings.CHROMA_PATH)  # as a Chroma server started by run_chroma would
    try:
        body = Client().get("/health").json()
    finally:
        os.close(fd)
    assert body["checks"]["knowledge_index"]["status"] == "warn"
    assert "set CHROMA_URL" in body["checks"]["knowledge_index"]["detail"]
    assert Client().get("/health").json()["checks"]["knowledge_index"]["status"] == "ok"


def test_a_collection_recreated_elsewhere_is_found_again():
    created = services.create_from_file(ContentFile(b"# A\n\nAlpha text about queues.", name="a.md"))
    services.ingest(created.document.pk)
    model = current_model_name()
    index.collection(model)  # cached
    # Another process (a restore, a rebuild) drops and recreates the collection.
    index.client().delete_collection(index.collection_name(model))
    index.client().create_collection(index.collection_name(model), embedding_function=None)
    assert index.count(model) == 0
    assert services.ingest(created.document.pk)["status"] == "indexed"
    assert index.count(model) == Document.objects.get(pk=created.document.pk).chunk_count


def test_reingesting_a_shorter_document_removes_the_extra_chunks():
    long_text = "\n\n".join(f"Paragraph {n} " + "word " * 200 for n in range(6)).encode()
    created = services.create_from_file(ContentFile(long_text, name="long.md"))
    services.ingest(created.document.pk)
    document = Document.objects.get(pk=created.document.pk)
    assert document.chunk_count > 2
    with document.file.open("wb") as handle:
        handle.write(b"Now a single short paragraph.")
    services.ingest(document.pk)
    document.refresh_from_db()
    assert document.chunk_count == 1
    assert index.count(current_model_name()) == 1


def test_ingest_many_batches_documents_and_isolates_failures():
    texts = [(f"# Doc {n}\n\nText number {n} about topic {n}.".encode(), f"d{n}.md") for n in range(5)]
    ids = [services.create_from_file(ContentFile(text, name=name)).document.pk for text, name in texts]
    broken = services.create_from_file(ContentFile(b"%PDF-1.4 broken", name="broken.pdf")).document.pk
    order = [ids[0], broken, *ids[1:], 999999]
    seen: list[int] = []
    results = services.ingest_many(order, batch_chunks=2, progress=lambda r: seen.append(r["document_id"]))
    assert [r["document_id"] for r in results] == order
    assert [r["status"] for r in results] == ["indexed", "failed", "indexed", "indexed", "indexed", "indexed", "gone"]
    assert sorted(seen) == sorted(order[:-1])
    assert index.count(current_model_name()) == 5
    assert services.search("topic 3")[0]["title"] == "d3"
