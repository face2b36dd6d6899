"""Retrieval quality: paraphrased questions against a small corpus, through a real on-disk Chroma.

Each question in ``data/questions.json`` is answered by exactly one document of
``data/corpus/`` and shares few of its key words, so a hit needs the embedding to capture
meaning. The whole pipeline is the production one (extract, chunk_text, LocalEmbedder, a
cosine collection with explicit embeddings); nothing may touch the network.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import chromadb.config
import numpy as np
import pytest
from chromadb.utils.embedding_functions import onnx_mini_lm_l6_v2

from apps.knowledge.chunking import chunk_text
from apps.knowledge.embeddings import LocalEmbedder
from apps.knowledge.extract import detect_kind, extract_text

DATA = Path(__file__).parent / "data"
TOP_K = 5
MIN_RECALL_AT_5 = 0.9


def load_corpus() -> dict[str, str]:
    corpus = {}
    for path in sorted((DATA / "corpus").glob("*.md")):
        data = path.read_bytes()
        corpus[path.name] = extract_text(data, detect_kind(path.name, None, data[:1024]))
    return corpus


def load_questions() -> list[dict[str, str]]:
    questions: list[dict[str, str]] = json.loads((DATA / "questions.json").read_text(encoding="utf-8"))
    return questions


def chunk_input(heading: str, text: str) -> str:
    # The heading path is part of what a chunk is about ("Backups > Restore").
    return f"{heading}\n\n{text}" if heading else text


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Fail on any outgoing connection and on any use of Chroma's downloading default model."""
    attempts: list[object] = []
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def guarded(original: Any) -> Any:
        def connect(self: socket.socket, address: Any) -> Any:
            if self.family != socket.AF_UNIX:
                attempts.append(address)
                raise OSError(f"network access attempted during an offline test: {address!r}")
            return original(self, address)

        return connect

    def no_default_model(*args: object, **kwargs: object) -> None:
        attempts.append("chroma default embedding function")
        raise AssertionError("Chroma's default embedding function was used (it downloads its model)")

    monkeypatch.setattr(socket.socket, "connect", guarded(original_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(original_connect_ex))
    monkeypatch.setattr(onnx_mini_lm_l6_v2.ONNXMiniLM_L6_V2, "__call__", no_default_model)
    monkeypatch.setattr(onnx_mini_lm_l6_v2.ONNXMiniLM_L6_V2, "_download_model_if_not_exists", no_default_model)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    yield attempts
    assert attempts == []


def test_the_corpus_and_questions_are_well_formed() -> None:
    corpus = load_corpus()
    questions = load_questions()

    assert len(corpus) >= 30
    for name, text in corpus.items():
        assert 80 <= len(text.split()) <= 250, name
    assert len(questions) >= 20
    assert {q["answer"] for q in questions} <= set(corpus)


# The production chunk size, and a smaller one so most documents span several chunks.
@pytest.mark.parametrize(("max_chars", "overlap_chars"), [(1200, 200), (600, 120)])
def test_it_retrieves_the_answering_document_for_paraphrased_questions(
    tmp_path: Path, offline: list[object], capsys: pytest.CaptureFixture[str], max_chars: int, overlap_chars: int
) -> None:
    corpus = load_corpus()
    questions = load_questions()
    embedder = LocalEmbedder()

    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=chromadb.config.Settings(anonymized_telemetry=False)
    )
    collection = client.create_collection(
        "retrieval_quality", embedding_function=None, metadata={"hnsw:space": "cosine"}
    )
    ids: list[str] = []
    documents: list[str] = []
    metadatas: list[chromadb.Metadata] = []
    for name, text in corpus.items():
        for chunk in chunk_text(text, max_chars=max_chars, overlap_chars=overlap_chars):
            ids.append(f"{name}#{chunk.index}")
            documents.append(chunk_input(chunk.heading, chunk.text))
            metadatas.append({"document": name, "heading": chunk.heading})
    # Chroma's stubs take arrays (a list of lists is fine at run time but not to mypy).
    vectors = np.asarray(embedder.embed(documents), dtype=np.float32)
    collection.add(ids=ids, embeddings=vectors, documents=documents, metadatas=metadatas)

    assert collection.count() == len(ids) >= len(corpus)
    assert (tmp_path / "chroma" / "chroma.sqlite3").is_file()

    result = collection.query(
        query_embeddings=np.asarray(embedder.embed([q["question"] for q in questions]), dtype=np.float32),
        n_results=TOP_K,
        include=["metadatas", "distances"],
    )
    assert result["metadatas"] is not None
    assert result["distances"] is not None
    ranked: list[list[str]] = []
    for chunk_metadatas in result["metadatas"]:
        names = [str(metadata["document"]) for metadata in chunk_metadatas]
        ranked.append(list(dict.fromkeys(names)))  # chunks to documents, best first, no repeats
    assert all(0.0 <= d <= 2.0 for row in result["distances"] for d in row)

    answers = [q["answer"] for q in questions]
    recall_at_1 = sum(docs[:1] == [answer] for docs, answer in zip(ranked, answers, strict=True)) / len(questions)
    recall_at_5 = sum(answer in docs for docs, answer in zip(ranked, answers, strict=True)) / len(questions)
    misses = [q["question"] for q, docs in zip(questions, ranked, strict=True) if q["answer"] not in docs]
    with capsys.disabled():
        print(
            f"\nretrieval (chunks of {max_chars}): {len(corpus)} documents, {len(ids)} chunks, "
            f"{len(questions)} questions: "
            f"recall@1={recall_at_1:.3f} recall@5={recall_at_5:.3f}"
        )

    assert recall_at_5 >= MIN_RECALL_AT_5, f"recall@5 {recall_at_5:.3f}; missed: {misses}"
