"""Knowledge base logic: documents in, chunks and vectors into Chroma, passages out.

Views, tasks, admin actions and commands call these functions; nothing else talks to the
index. Errors that a retry cannot fix (unsupported or unreadable content, a refused URL)
end the document as ``failed`` with the reason and leave none of its chunks in the index;
errors of the infrastructure (Chroma or the embedding API unreachable) raise
``TransientError`` so that the job is retried.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any

import structlog
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from apps.backups.engines.rag import index_writing
from apps.knowledge import index
from apps.knowledge.choices import DocumentStatus, SourceType
from apps.knowledge.chunking import chunk_text
from apps.knowledge.extract import ExtractionError, UnsupportedDocumentType, detect_kind, extract_text, guess_title
from apps.knowledge.fetch import FetchError, fetch_url
from apps.knowledge.models import DEFAULT_COLLECTION, Document, IndexState, new_token
from commandcenter.metrics import rag_query_duration, track_cache_operation, track_rag_operation

log = structlog.get_logger(__name__)


def current_model_name() -> str:
    # numpy and onnxruntime load with the embeddings module: only when embedding is needed.
    from apps.knowledge.embeddings import current_model_name as model_name

    return model_name()


def get_embedder() -> Any:
    from apps.knowledge.embeddings import get_embedder as embedder

    return embedder()


PERMANENT_ERRORS = (ExtractionError, UnsupportedDocumentType, FetchError)
EMBED_BATCH = 64


class TransientError(Exception):
    """Chroma or the embedding backend could not be reached: try the job again later."""


@dataclass(frozen=True)
class Passage:
    document_id: int
    title: str
    chunk: str
    heading: str
    chunk_index: int
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "title": self.title,
            "chunk": self.chunk,
            "heading": self.heading,
            "chunk_index": self.chunk_index,
            "score": self.score,
        }


# --- index version (cache keys) ---------------------------------------------------------------


def index_version() -> str:
    state, _ = IndexState.objects.get_or_create(pk=1)
    return state.token


def bump_index_version() -> None:
    IndexState.objects.get_or_create(pk=1)
    IndexState.objects.filter(pk=1).update(version=F("version") + 1, token=new_token())


# --- creating documents -----------------------------------------------------------------------


def max_upload_bytes() -> int:
    return int(settings.KNOWLEDGE_MAX_UPLOAD_MB) * 1024 * 1024


def sha256_of(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(1024 * 1024), b""):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


@dataclass(frozen=True)
class Created:
    document: Document
    created: bool


def create_from_file(
    upload: File[Any],
    *,
    title: str = "",
    collection: str = DEFAULT_COLLECTION,
    category: str = "",
    technology_id: int | None = None,
    research_task_id: int | None = None,
    content_type: str | None = None,
) -> Created:
    """A pending document for an uploaded file; the same content in the same collection
    gives back the existing document instead of a duplicate.

    Raises ``UnsupportedDocumentType`` for content the extractor does not handle.
    """
    name = (upload.name or "document").rsplit("/", 1)[-1]
    head = upload.read(8)
    upload.seek(0)
    kind = detect_kind(name, content_type, head)
    sha = sha256_of(upload.file if hasattr(upload, "file") and upload.file is not None else upload)
    existing = Document.objects.filter(collection=collection, content_sha256=sha).first()
    if existing is not None:
        return Created(existing, False)
    document = Document(
        title=title or name.rsplit(".", 1)[0][:300] or "Untitled",
        source_type=SourceType.UPLOAD,
        content_type=kind,
        size=upload.size or 0,
        content_sha256=sha,
        collection=collection,
        category=category,
        technology_id=technology_id,
        research_task_id=research_task_id,
    )
    document.file.save(name, upload, save=False)
    document.save()
    log.info("document_created", document_id=document.pk, source="upload", kind=kind, size=document.size)
    return Created(document, True)


def create_from_url(
    url: str,
    *,
    title: str = "",
    collection: str = DEFAULT_COLLECTION,
    category: str = "",
    technology_id: int | None = None,
    research_task_id: int | None = None,
) -> Created:
    """A pending document for ``url`` (fetched by the ingestion job); the same URL in the same
    collection is the same document, ingested again."""
    existing = Document.objects.filter(collection=collection, source_url=url).first()
    if existing is not None:
        return Created(existing, False)
    document = Document.objects.create(
        title=title or url[:300],
        source_type=SourceType.URL,
        source_url=url,
        collection=collection,
        category=category,
        technology_id=technology_id,
        research_task_id=research_task_id,
    )
    log.info("document_created", document_id=document.pk, source="url")
    return Created(document, True)


def create_from_attachment(attachment: Any) -> Document | None:
    """A pending document that reads a research-task attachment's stored file (not a copy);
    ``None`` when the attachment's type is not one the knowledge base reads."""
    name = attachment.file.name.rsplit("/", 1)[-1]
    with attachment.file.open("rb") as handle:
        head = handle.read(8)
        handle.seek(0)
        try:
            kind = detect_kind(name, None, head)
        except UnsupportedDocumentType:
            log.info("attachment_not_ingested", attachment_id=attachment.pk, reason="unsupported type")
            return None
        sha = sha256_of(handle)
    task = attachment.task
    document, _ = Document.objects.update_or_create(
        attachment=attachment,
        defaults={
            "title": attachment.name or name,
            "source_type": SourceType.ATTACHMENT,
            "content_type": kind,
            "size": attachment.size,
            "content_sha256": sha,
            "collection": "research",
            "research_task_id": task.pk,
            "technology_id": task.technology_id,
            "status": DocumentStatus.PENDING,
            "file": attachment.file.name,
        },
    )
    return document


# --- ingestion ----------------------------------------------------------------------------------


def _content(document: Document, *, refetch: bool) -> tuple[bytes, str]:
    """The document's bytes and kind; a URL's content is fetched and stored the first time
    (or when ``refetch``), later runs (re-index, rebuild) read the stored copy."""
    if document.source_type == SourceType.URL and document.source_url and (refetch or not document.file):
        fetched = fetch_url(
            document.source_url,
            max_bytes=max_upload_bytes(),
            timeout=settings.KNOWLEDGE_URL_TIMEOUT,
            networks=settings.KNOWLEDGE_URL_ALLOWED_NETWORKS,
        )
        kind = detect_kind(fetched.filename, fetched.content_type, fetched.data[:8])
        sha = hashlib.sha256(fetched.data).hexdigest()
        twin = (
            Document.objects.filter(collection=document.collection, content_sha256=sha).exclude(pk=document.pk).first()
        )
        if twin is not None:
            raise FetchError(f"same content as document #{twin.pk} ({twin.title}) in this collection")
        if document.file:
            document.file.delete(save=False)
        suffix = {"markdown": ".md", "html": ".html", "pdf": ".pdf", "text": ".txt"}[kind]
        stem = (fetched.filename.rsplit(".", 1)[0] or "page")[:100]
        document.file.save(f"{stem}{suffix}", ContentFile(fetched.data), save=False)
        document.content_type, document.size, document.content_sha256 = kind, len(fetched.data), sha
        return fetched.data, kind
    if not document.file:
        raise ExtractionError("the document has no file")
    with document.file.open("rb") as handle:
        data = handle.read()
    kind = document.content_type or detect_kind(document.file.name, None, data[:8])
    return data, kind


def _metadata(document: Document, index_: int, heading: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "document_id": document.pk,
        "chunk_index": index_,
        "heading": heading,
        "title": document.title[:300],
        "category": document.category,
        "collection": document.collection,
    }
    if document.technology_id is not None:
        metadata["technology_id"] = document.technology_id
    return metadata


@dataclass
class _Prepared:
    document: Document
    chunks: list[Any]
    previous: int | None

    @property
    def inputs(self) -> list[str]:
        # The heading is embedded with its chunk (it says what the passage is about; it
        # measurably improves recall@1), while the stored text is the passage alone.
        return [f"{c.heading}\n\n{c.text}" if c.heading else c.text for c in self.chunks]


def _previous_count(document: Document, model_name: str) -> int | None:
    """How many chunks the document has in this model's collection: 0 when it never had any,
    ``None`` (unknown: delete them all) after a failure, a model change or an interrupted run."""
    if document.status == DocumentStatus.INDEXED and document.embedding_model == model_name:
        return document.chunk_count
    if not document.embedding_model and document.status == DocumentStatus.PENDING and not document.indexed_at:
        return 0
    return None


def _prepare(document: Document, model_name: str, refetch: bool) -> _Prepared:
    """Read, parse and chunk one document; PERMANENT_ERRORS when it cannot be indexed."""
    previous = _previous_count(document, model_name)
    data, kind = _content(document, refetch=refetch)
    text = extract_text(data, kind)
    chunks = chunk_text(text)
    if not chunks:
        raise ExtractionError("no text to index")
    if document.source_type == SourceType.URL and document.title == document.source_url[:300]:
        document.title = guess_title(text, document.title)[:300]
    return _Prepared(document, chunks, previous)


def _failed(document: Document, model_name: str, exc: Exception) -> dict[str, Any]:
    _forget_chunks(model_name, document.pk)
    document.status = DocumentStatus.FAILED
    document.error = str(exc)[:2000]
    document.chunk_count = 0
    document.save()
    track_rag_operation("ingest", success=False)
    log.warning("document_ingest_failed", document_id=document.pk, error=document.error)
    return {"document_id": document.pk, "status": "failed", "error": document.error}


def _index(batch: list[_Prepared], model_name: str) -> list[dict[str, Any]]:
    """Embed the chunks of several documents together and write them to the index at once
    (Chroma has a fixed cost per write, whatever its size)."""
    if not batch:
        return []
    embedder = get_embedder()
    inputs = [text for item in batch for text in item.inputs]
    try:
        vectors = [
            vector
            for start in range(0, len(inputs), EMBED_BATCH)
            for vector in embedder.embed(inputs[start : start + EMBED_BATCH])
        ]
        ids, texts, metadatas = [], [], []
        for item in batch:
            for chunk in item.chunks:
                ids.append(index.chunk_id(item.document.pk, chunk.index))
                texts.append(chunk.text)
                metadatas.append(_metadata(item.document, chunk.index, chunk.heading))
        with index_writing():  # a backup pauses index writes while it exports the index
            for item in batch:
                index.delete_leftovers(model_name, item.document.pk, len(item.chunks), item.previous)
            index.upsert(model_name, ids, texts, vectors, metadatas)
    except Exception as exc:
        for item in batch:
            item.document.error = f"index unavailable, will retry: {type(exc).__name__}: {exc}"[:2000]
            item.document.save(update_fields=["error", "updated_at"])
            track_rag_operation("ingest", success=False)
        raise TransientError(str(exc)) from exc
    results = []
    now = timezone.now()
    for item in batch:
        document = item.document
        document.status = DocumentStatus.INDEXED
        document.error = ""
        document.chunk_count = len(item.chunks)
        document.embedding_model = model_name
        document.indexed_at = now
        document.save()
        track_rag_operation("ingest", success=True)
        log.info("document_indexed", document_id=document.pk, chunks=len(item.chunks), model=model_name)
        results.append({"document_id": document.pk, "status": "indexed", "chunks": len(item.chunks)})
    return results


def ingest_many(
    document_ids: Iterable[int],
    *,
    refetch: bool = False,
    batch_chunks: int = 512,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Parse, chunk, embed and index documents, several at a time: the chunks of consecutive
    documents are embedded and written together (up to ``batch_chunks``). Idempotent: a
    second run replaces each document's chunks (stable ids). Results in the given order."""
    model_name = current_model_name()
    results: dict[int, dict[str, Any]] = {}
    order: list[int] = []
    batch: list[_Prepared] = []

    def flush() -> None:
        for result in _index(batch, model_name):
            results[result["document_id"]] = result
            if progress:
                progress(result)
        batch.clear()

    try:
        for document_id in document_ids:
            order.append(document_id)
            document = Document.objects.filter(pk=document_id).first()
            if document is None:
                results[document_id] = {"document_id": document_id, "status": "gone"}
                continue
            try:
                batch.append(_prepare(document, model_name, refetch))
            except PERMANENT_ERRORS as exc:
                results[document_id] = _failed(document, model_name, exc)
                if progress:
                    progress(results[document_id])
                continue
            if sum(len(item.chunks) for item in batch) >= batch_chunks:
                flush()
        flush()
    finally:
        if results:
            bump_index_version()
    return [results[document_id] for document_id in order]


def ingest(document_id: int, *, refetch: bool = False) -> dict[str, Any]:
    """Ingest one document (the Celery job of an upload, a URL, a re-index)."""
    return ingest_many([document_id], refetch=refetch)[0]


def _forget_chunks(model_name: str, document_id: int) -> None:
    try:
        with index_writing():
            index.delete_document(model_name, document_id)
    except Exception as exc:  # the index is derived data: a rebuild will clean it
        log.error("index_delete_failed", document_id=document_id, error=f"{type(exc).__name__}: {exc}")


def mark_failed(document_id: int, error: str) -> None:
    Document.objects.filter(pk=document_id).update(status=DocumentStatus.FAILED, error=error[:2000])


def delete(document: Document) -> None:
    """Delete the document (its chunks leave the index through the post_delete signal)."""
    document_id = document.pk
    with transaction.atomic():
        document.delete()
    track_rag_operation("delete", success=True)
    log.info("document_deleted", document_id=document_id)


def on_document_deleted(document: Document, document_id: int) -> None:
    """After a document row is gone (any way: API, admin, cascade): its chunks and its own
    file go too (an attachment's file belongs to the attachment)."""
    if document.embedding_model:
        _forget_chunks(document.embedding_model, document_id)
    if document.file and document.source_type != SourceType.ATTACHMENT:
        document.file.delete(save=False)
    bump_index_version()


# --- search -------------------------------------------------------------------------------------


def search(
    query: str,
    *,
    limit: int = 5,
    technology: int | None = None,
    category: str = "",
    collection: str = "",
    min_score: float = 0.0,
) -> list[dict[str, Any]]:
    model_name = current_model_name()
    filters = {"technology_id": technology, "category": category or None, "collection": collection or None}
    key_source = json.dumps(
        {"q": query, "f": filters, "l": limit, "m": min_score, "v": index_version(), "model": model_name},
        sort_keys=True,
    )
    key = "kb:query:" + hashlib.sha256(key_source.encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        track_cache_operation("knowledge_query", "hit")
        track_rag_operation("query", success=True)
        return list(cached)
    track_cache_operation("knowledge_query", "miss")
    try:
        with rag_query_duration.time():
            vector = get_embedder().embed([query])[0]
            hits = index.query(model_name, vector, limit=limit, filters=filters)
    except Exception:
        track_rag_operation("query", success=False)
        raise
    document_ids = {int(hit.metadata.get("document_id", 0)) for hit in hits}
    titles = dict(Document.objects.filter(pk__in=document_ids).values_list("pk", "title"))
    passages = [
        Passage(
            document_id=int(hit.metadata["document_id"]),
            title=titles[int(hit.metadata["document_id"])],
            chunk=hit.text,
            heading=str(hit.metadata.get("heading", "")),
            chunk_index=int(hit.metadata.get("chunk_index", 0)),
            score=round(hit.score, 4),
        ).as_dict()
        for hit in hits
        if int(hit.metadata.get("document_id", 0)) in titles and hit.score >= min_score
    ]
    cache.set(key, passages, settings.KNOWLEDGE_CACHE_TIMEOUT)
    track_rag_operation("query", success=True)
    return passages


# --- statistics, health, rebuild ----------------------------------------------------------------


def statistics() -> dict[str, Any]:
    indexed = Q(status=DocumentStatus.INDEXED)

    def grouped(field: str) -> list[dict[str, Any]]:
        rows = (
            Document.objects.values(field)
            .annotate(documents=Count("id"), chunks=Sum("chunk_count", filter=indexed))
            .order_by(field)
        )
        return [{field: row[field], "documents": row["documents"], "chunks": row["chunks"] or 0} for row in rows]

    totals = Document.objects.aggregate(documents=Count("id"), chunks=Sum("chunk_count", filter=indexed))
    by_status = dict(Document.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {
        "documents": totals["documents"],
        "chunks": totals["chunks"] or 0,
        "by_status": {s: by_status.get(s, 0) for s in DocumentStatus.values},
        "by_collection": grouped("collection"),
        "by_category": grouped("category"),
        "embedding_model": current_model_name(),
    }


def stale_documents() -> int:
    """Indexed documents whose vectors come from another model than the configured one."""
    return Document.objects.filter(status=DocumentStatus.INDEXED).exclude(embedding_model=current_model_name()).count()


def rebuild(progress: Callable[[str, dict[str, Any]], None] | None = None) -> dict[str, int]:
    """Rebuild the index of the configured model from the stored documents."""
    model_name = current_model_name()
    index.drop(model_name)
    counts = {"indexed": 0, "failed": 0}
    titles = dict(Document.objects.values_list("pk", "title"))

    def count(result: dict[str, Any]) -> None:
        counts["indexed" if result.get("status") == "indexed" else "failed"] += 1
        if progress is not None:
            progress(titles.get(result["document_id"], ""), result)

    # Every chunk is new in the dropped collection: nothing to delete first.
    Document.objects.filter(status=DocumentStatus.INDEXED, embedding_model=model_name).update(chunk_count=0)
    ingest_many(sorted(titles), progress=count)
    return counts
