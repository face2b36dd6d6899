from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from prometheus_client import REGISTRY

from apps.jobs.models import Job
from apps.knowledge import services
from apps.knowledge.models import Document
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db(transaction=False)
DOCS = "/api/v1/knowledge/documents/"
QUERY = "/api/v1/knowledge/query/"

POSTGRES_MD = b"""# PostgreSQL backups

Take logical backups with pg_dump in the custom format, then restore them with pg_restore.

## Point in time recovery

Archive the write-ahead log continuously to replay changes up to any moment.
"""
REDIS_MD = b"""# Redis eviction

When memory is full, Redis evicts keys according to maxmemory-policy, such as allkeys-lru
or volatile-lru, which only removes keys that carry an expiry.
"""


def upload(api, name: str, content: bytes, **extra):
    data = {"file": SimpleUploadedFile(name, content), **extra}
    return api.post(DOCS, data, format="multipart")


def ingest_all() -> None:
    for document in Document.objects.filter(status="pending"):
        services.ingest(document.pk)


def test_upload_answers_202_with_the_job_and_a_pending_document(api):
    response = upload(api, "postgres.md", POSTGRES_MD, category="databases")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["url"] == f"/api/v1/jobs/{body['job_id']}/"
    document = Document.objects.get(pk=body["document_id"])
    assert document.status == "pending"
    assert document.content_type == "markdown"
    assert document.category == "databases"
    assert Job.objects.get(task_id=body["job_id"]).args == [document.pk]


def test_the_same_content_is_not_added_twice(api):
    first = upload(api, "postgres.md", POSTGRES_MD)
    ingest_all()
    again = upload(api, "copy-of-postgres.md", POSTGRES_MD)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["document_id"]
    assert Document.objects.count() == 1
    other_collection = upload(api, "postgres.md", POSTGRES_MD, collection="ops")
    assert other_collection.status_code == 202


def test_search_finds_the_passage_by_meaning(api):
    tech = TechnologyFactory.create(title="PostgreSQL")
    upload(api, "postgres.md", POSTGRES_MD, technology=tech.pk, category="databases")
    upload(api, "redis.md", REDIS_MD, category="cache")
    ingest_all()
    assert set(Document.objects.values_list("status", flat=True)) == {"indexed"}
    response = api.post(QUERY, {"query": "how do I restore a database dump?", "limit": 3}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0]["title"] == "postgres"
    assert "pg_restore" in results[0]["chunk"]
    assert results[0]["heading"] == "PostgreSQL backups"
    assert 0 < results[0]["score"] <= 1
    filtered = api.post(QUERY, {"query": "memory full", "category": "databases"}, format="json").json()
    assert {r["title"] for r in filtered["results"]} == {"postgres"}
    by_tech = api.post(QUERY, {"query": "evict keys", "technology": tech.pk}, format="json").json()
    assert {r["title"] for r in by_tech["results"]} == {"postgres"}
    strict = api.post(QUERY, {"query": "evict keys", "min_score": 0.99}, format="json").json()
    assert strict["results"] == []


def test_results_are_cached_until_the_index_changes(api):
    upload(api, "postgres.md", POSTGRES_MD)
    ingest_all()

    def hits() -> float:
        value = REGISTRY.get_sample_value(
            "commandcenter_cache_operations_total", {"operation": "knowledge_query", "result": "hit"}
        )
        return value or 0.0

    before = hits()
    first = api.post(QUERY, {"query": "restore a dump"}, format="json").json()
    second = api.post(QUERY, {"query": "restore a dump"}, format="json").json()
    assert first == second
    assert hits() == before + 1
    upload(api, "redis.md", REDIS_MD)
    ingest_all()
    api.post(QUERY, {"query": "restore a dump"}, format="json")
    assert hits() == before + 1  # the new document bumped the index version: recomputed


def test_deleting_a_document_removes_exactly_its_chunks(api, django_capture_on_commit_callbacks):
    upload(api, "postgres.md", POSTGRES_MD)
    upload(api, "redis.md", REDIS_MD)
    ingest_all()
    redis_doc = Document.objects.get(title="redis")
    postgres_doc = Document.objects.get(title="postgres")
    from apps.knowledge import index
    from apps.knowledge.embeddings import current_model_name

    total = index.count(current_model_name())
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"{DOCS}{redis_doc.pk}/").status_code == 204
    assert index.count(current_model_name()) == total - redis_doc.chunk_count
    results = api.post(QUERY, {"query": "maxmemory-policy eviction", "limit": 10}, format="json").json()["results"]
    assert {r["document_id"] for r in results} == {postgres_doc.pk}


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"query": ""}, 400, "query"),
        ({"query": "   "}, 400, "query"),
        ({}, 400, "query"),
        ({"query": "x", "limit": 0}, 400, "limit"),
        ({"query": "x", "limit": 51}, 400, "limit"),
        ({"query": "x", "min_score": 2}, 400, "min_score"),
        ({"query": "x", "technology": "abc"}, 400, "technology"),
    ],
)
def test_bad_queries_are_400(api, payload, status, field):
    response = api.post(QUERY, payload, format="json")
    assert response.status_code == status
    assert field in response.json()


@override_settings(KNOWLEDGE_MAX_UPLOAD_MB=1)
def test_a_file_over_the_limit_is_413(api):
    response = upload(api, "big.txt", b"a" * (1024 * 1024 + 10))
    assert response.status_code == 413
    assert "KNOWLEDGE_MAX_UPLOAD_MB" in response.json()["detail"]
    assert not Document.objects.exists()


@pytest.mark.parametrize(("name", "content"), [("photo.png", b"\x89PNG\r\n\x1a\n..."), ("run.exe", b"MZ\x90\x00")])
def test_unsupported_types_are_415(api, name, content):
    response = upload(api, name, content)
    assert response.status_code == 415
    assert not Document.objects.exists()


def test_an_unparsable_pdf_ends_failed_with_the_reason_and_no_chunks(api):
    response = upload(api, "broken.pdf", b"%PDF-1.4\nthis is not really a pdf")
    assert response.status_code == 202
    document = Document.objects.get(pk=response.json()["document_id"])
    result = services.ingest(document.pk)
    document.refresh_from_db()
    assert result["status"] == "failed"
    assert document.status == "failed"
    assert document.error
    assert document.chunk_count == 0
    assert api.post(QUERY, {"query": "anything at all"}, format="json").json()["results"] == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "ftp://example.com/file.txt"}, "url"),
        ({"url": "http://127.0.0.1/admin"}, "url"),
        ({"url": "http://169.254.169.254/latest/meta-data/"}, "url"),
        ({"url": "http://10.0.0.5/"}, "url"),
        ({"url": "http://[::1]:8000/"}, "url"),
        ({}, "non_field_errors"),
        ({"url": "https://example.com/a", "collection": "bad name!"}, "collection"),
    ],
)
def test_bad_url_requests_are_400(api, payload, field):
    response = api.post(DOCS, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Document.objects.exists()


def test_statistics(api):
    upload(api, "postgres.md", POSTGRES_MD, category="databases")
    upload(api, "redis.md", REDIS_MD, category="cache", collection="ops")
    ingest_all()
    body = api.get("/api/v1/knowledge/statistics/").json()
    assert body["documents"] == 2
    assert body["chunks"] == sum(Document.objects.values_list("chunk_count", flat=True))
    assert body["by_status"]["indexed"] == 2
    assert {row["collection"] for row in body["by_collection"]} == {"default", "ops"}
    assert body["embedding_model"] == "all-MiniLM-L6-v2-onnx-int8"


def test_permissions(make_user, client_for):
    reader = client_for(make_user("knowledge.view_document"), read_only=True)
    assert reader.post(QUERY, {"query": "x"}, format="json").status_code == 200
    assert reader.get(DOCS).status_code == 200
    assert upload(reader, "a.md", b"# A\n\ntext").status_code == 403
    nobody = client_for(make_user())
    assert nobody.post(QUERY, {"query": "x"}, format="json").status_code == 403
