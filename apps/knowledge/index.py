"""The Chroma side of the knowledge base: one collection per embedding model.

The client is made once per process: an HTTP client of the Chroma server at ``CHROMA_URL``
(whenever the web server and workers share the index), else an embedded on-disk store at
``CHROMA_PATH`` (one process only: tests, a command run alone). Vectors are always given
explicitly: Chroma's default embedding function (which downloads a model) is never used.
Chunk ids are stable (``doc<id>-<index>``) so re-ingesting a document overwrites its chunks.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from django.conf import settings

if TYPE_CHECKING:  # chromadb is imported when first used: it costs 0.6 s at every start
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

_lock = threading.Lock()
_clients: dict[str, ClientAPI] = {}
_store_locks: dict[str, int] = {}
_collections: dict[tuple[str, str], Collection] = {}
T = TypeVar("T")


class StoreInUse(RuntimeError):
    """Another process has the on-disk store open."""


def lock_store(path: Path) -> int:
    """Take the store's exclusive lock (a file beside it) for the life of this process.

    An on-disk Chroma store must be opened by one process only: a second one would not
    see the first one's writes. The lock is released when the process exits, however it
    exits, and ``manage.py run_chroma`` holds it for the Chroma server it starts.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent / f"{path.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreInUse(
            f"the Chroma store at {path} is open in another process (a Chroma server or a command); "
            "set CHROMA_URL to use the server instead"
        ) from None
    return fd


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    text: str
    metadata: dict[str, Any]
    score: float


def client() -> ClientAPI:
    key = settings.CHROMA_URL or f"path:{settings.CHROMA_PATH}"
    with _lock:
        existing = _clients.get(key)
        if existing is not None:
            return existing
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if settings.CHROMA_URL:
            parts = urlsplit(settings.CHROMA_URL)
            made = chromadb.HttpClient(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or (443 if parts.scheme == "https" else 8000),
                ssl=parts.scheme == "https",
                settings=chroma_settings,
            )
        else:
            path = Path(settings.CHROMA_PATH)
            if str(path) not in _store_locks:
                _store_locks[str(path)] = lock_store(path)
            path.mkdir(parents=True, exist_ok=True)
            made = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        _clients[key] = made
        return made


def holds_store(path: Path) -> bool:
    """Whether this process holds the lock of the store at ``path``."""
    return str(Path(path)) in _store_locks


def reset_clients() -> None:
    """Forget the cached clients (tests, or after a restore replaced the store on disk)."""
    with _lock:
        _clients.clear()
        _collections.clear()
        for fd in _store_locks.values():
            os.close(fd)
        _store_locks.clear()


def collection_name(model_name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_name).strip("-._") or "model"
    return f"knowledge-{slug}"[:60]


def collection(model_name: str, *, fresh: bool = False) -> Collection:
    """The model's collection, looked up once per process (a look-up is a round trip)."""
    key = (settings.CHROMA_URL or str(settings.CHROMA_PATH), model_name)
    found = None if fresh else _collections.get(key)
    if found is None:
        found = client().get_or_create_collection(
            collection_name(model_name),
            embedding_function=None,
            metadata={"hnsw:space": "cosine", "embedding_model": model_name},
        )
        _collections[key] = found
    return found


def _on_collection(model_name: str, action: Callable[[Collection], T]) -> T:
    """Run ``action`` on the collection; if it was dropped and recreated meanwhile (a restore
    or a rebuild, maybe in another process), look it up again once."""
    from chromadb.errors import NotFoundError

    try:
        return action(collection(model_name))
    except NotFoundError:
        return action(collection(model_name, fresh=True))


def chunk_id(document_id: int, index: int) -> str:
    return f"doc{document_id}-{index}"


def upsert(
    model_name: str,
    ids: Sequence[str],
    texts: Sequence[str],
    vectors: Sequence[Sequence[float]],
    metadatas: Sequence[dict[str, Any]],
) -> None:
    """Write chunks (of one or several documents) in one call per Chroma batch limit."""
    if not ids:
        return
    limit = client().get_max_batch_size()
    for start in range(0, len(ids), limit):
        end = start + limit
        embeddings: Any = [list(v) for v in vectors[start:end]]

        def write(target: Collection, start: int = start, end: int = end, embeddings: Any = embeddings) -> None:
            target.upsert(
                ids=list(ids[start:end]),
                documents=list(texts[start:end]),
                embeddings=embeddings,
                metadatas=[dict(m) for m in metadatas[start:end]],
            )

        _on_collection(model_name, write)


def delete_leftovers(model_name: str, document_id: int, new_count: int, previous_count: int | None) -> None:
    """Before upserting ``new_count`` chunks: remove the document's chunks that the upsert
    will not overwrite (all of them when ``previous_count`` is unknown)."""
    if previous_count is None:
        delete_document(model_name, document_id)
    elif previous_count > new_count:
        stale = [chunk_id(document_id, i) for i in range(new_count, previous_count)]
        _on_collection(model_name, lambda target: target.delete(ids=stale))


def replace_document(
    model_name: str,
    document_id: int,
    texts: Sequence[str],
    vectors: Sequence[Sequence[float]],
    metadatas: Sequence[dict[str, Any]],
    *,
    previous_count: int | None = None,
) -> None:
    """Make the index hold exactly these chunks for the document (stable ids: the upsert
    overwrites the previous chunks; only those past the new count are deleted)."""
    delete_leftovers(model_name, document_id, len(texts), previous_count)
    upsert(model_name, [chunk_id(document_id, i) for i in range(len(texts))], texts, vectors, metadatas)


def delete_document(model_name: str, document_id: int) -> None:
    _on_collection(model_name, lambda target: target.delete(where={"document_id": document_id}))


def where_clause(filters: dict[str, Any]) -> dict[str, Any] | None:
    terms = [{key: value} for key, value in filters.items() if value not in (None, "")]
    if not terms:
        return None
    if len(terms) == 1:
        return terms[0]
    return {"$and": terms}


def query(model_name: str, vector: Sequence[float], *, limit: int, filters: dict[str, Any]) -> list[Hit]:
    result = _on_collection(
        model_name,
        lambda target: target.query(
            query_embeddings=[list(vector)],  # type: ignore[arg-type]
            n_results=limit,
            where=where_clause(filters),
            include=["documents", "metadatas", "distances"],
        ),
    )
    ids = result["ids"][0]
    documents = (result.get("documents") or [[]])[0]
    metadatas = (result.get("metadatas") or [[]])[0]
    distances = (result.get("distances") or [[]])[0]
    return [
        Hit(chunk_id=ids[i], text=documents[i] or "", metadata=dict(metadatas[i] or {}), score=1.0 - distances[i])
        for i in range(len(ids))
    ]


def count(model_name: str) -> int:
    return _on_collection(model_name, lambda target: target.count())


def drop(model_name: str) -> None:
    name = collection_name(model_name)
    _collections.pop((settings.CHROMA_URL or str(settings.CHROMA_PATH), model_name), None)
    try:
        client().delete_collection(name)
    except Exception as exc:  # a missing collection is what we want
        if "does not exist" not in str(exc).lower() and "not found" not in str(exc).lower():
            raise


def heartbeat() -> str:
    """One round trip to Chroma; describes where the index lives."""
    client().heartbeat()
    return f"server {settings.CHROMA_URL}" if settings.CHROMA_URL else f"embedded at {settings.CHROMA_PATH}"
