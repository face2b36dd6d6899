"""The knowledge-base engine: media files and the Chroma index, embedded store and server."""

from __future__ import annotations

import fcntl
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pytest

from apps.backups import processes
from apps.backups.engines import rag
from apps.backups.engines.common import BackupError
from apps.backups.files import sha256_file
from apps.knowledge import index
from conftest import IN_CI
from tests.live import free_port

# Reading a collection's configuration warns about the "legacy" embedding function record that
# Chroma keeps for collections made without one (the app never gives one).
pytestmark = pytest.mark.filterwarnings("ignore:legacy embedding function config:DeprecationWarning")

RNG = np.random.default_rng(20240501)


def unit_vectors(count: int, dimensions: int) -> np.ndarray:
    vectors = RNG.normal(size=(count, dimensions)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def places(settings, tmp_path: Path) -> Iterator[Path]:
    """An on-disk Chroma store, a media folder and a backup folder of the test's own."""
    settings.CHROMA_PATH = tmp_path / "chroma"
    settings.CHROMA_URL = ""
    settings.MEDIA_ROOT = tmp_path / "var" / "media"
    settings.BACKUP_DIR = tmp_path / "backups"
    index.reset_clients()
    yield tmp_path
    index.reset_clients()


def populate(client) -> dict[str, np.ndarray]:
    """Two collections with real vectors, documents and metadata; returns the vectors."""
    first = client.create_collection(
        "knowledge-model-a",
        embedding_function=None,
        metadata={"hnsw:space": "cosine", "embedding_model": "model-a"},
    )
    vectors_a = unit_vectors(1234, 32)  # more than one export page
    ids_a = [f"doc{i // 10}-{i % 10}" for i in range(len(vectors_a))]
    for start in range(0, len(ids_a), 500):
        first.add(
            ids=ids_a[start : start + 500],
            embeddings=vectors_a[start : start + 500],
            documents=[f"chunk {i} of document {i // 10} ünïcödé" for i in range(start, min(start + 500, len(ids_a)))],
            metadatas=[
                {"document_id": i // 10, "index": i % 10, "title": f"Doc {i // 10}", "public": i % 2 == 0}
                for i in range(start, min(start + 500, len(ids_a)))
            ],
        )
    second = client.create_collection(
        "knowledge-model-b", embedding_function=None, configuration={"hnsw": {"space": "l2", "ef_search": 40}}
    )
    vectors_b = unit_vectors(25, 8)
    second.add(
        ids=[f"b{i}" for i in range(25)],
        embeddings=vectors_b,
        documents=[f"second {i}" for i in range(25)],
        metadatas=[{"n": i, "score": i / 3} for i in range(25)],
    )
    return {"knowledge-model-a": vectors_a, "knowledge-model-b": vectors_b}


def top_results(client, probes: dict[str, np.ndarray]) -> dict[str, list[list[str]]]:
    found = {}
    for name, vectors in probes.items():
        result = client.get_collection(name).query(query_embeddings=vectors, n_results=3)
        found[name] = result["ids"]
    return found


def make_media(root: Path) -> dict[str, bytes]:
    files = {
        "knowledge/2024/05/traefik.md": b"# Traefik\n\nACME certificates.\n",
        "knowledge/2024/05/report.pdf": os.urandom(300_000),
        "research/attachments/7/notes with spaces é.txt": b"attachment",
        "empty.txt": b"",
        "odd names/back\\slash and 'quotes'.txt": b"odd",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "empty-folder").mkdir()
    return files


def media_content(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def test_round_trip_of_collections_and_media(places: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rag, "RESTORE_BATCH_BYTES", 100_000)  # several batches per collection
    client = index.client()
    vectors = populate(client)
    media_root = Path(places / "var" / "media")
    make_media(media_root)
    os.link(media_root / "empty.txt", media_root / "hard-link.txt")  # stored as a plain file
    outside = places / "secret.txt"
    outside.write_text("not part of the media")
    (media_root / "link.txt").symlink_to(outside)  # links are never followed into the archive
    media_before = media_content(media_root)
    probes = {name: v[[0, 7, 19]] + 0.01 for name, v in vectors.items()}
    before = top_results(client, probes)
    metadata_before = {c.name: (c.metadata, c.configuration["hnsw"]) for c in client.list_collections()}
    target = places / "backups" / "rag" / "20240501_020000.tar.gz"
    messages: list[str] = []

    result = rag.dump(target, media_root=media_root, progress=messages.append)

    assert result.files[0].path == target
    assert result.files[0].sha256 == sha256_file(target)
    assert result.files[0].size == target.stat().st_size
    assert result.details == {
        "engine": "rag",
        "collections": {"knowledge-model-a": 1234, "knowledge-model-b": 25},
        "media_files": 6,
        "media_bytes": sum(len(v) for v in media_before.values()),
        "chroma_version": chromadb.__version__,
        "chroma": "embedded",
    }
    assert messages
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no spool or temp file left
    with tarfile.open(target) as archive:
        names = archive.getnames()
    assert names[0] == "chroma/collections.json"
    assert "media/link.txt" not in names
    assert all(name.startswith(("chroma/", "media/")) for name in names)

    report = rag.verify(target)
    assert report["ok"] is True, report["problems"]
    assert report["collections"] == {"knowledge-model-a": 1234, "knowledge-model-b": 25}
    assert report["media_files"] == 6

    # Wipe: the collections go, another appears, the media change.
    client.delete_collection("knowledge-model-a")
    client.delete_collection("knowledge-model-b")
    client.create_collection("knowledge-model-new", embedding_function=None).add(
        ids=["x"], embeddings=unit_vectors(1, 4)
    )
    shutil.rmtree(media_root / "knowledge")
    (media_root / "uploaded-after.txt").write_text("later")

    restored = rag.restore(target, media_root=media_root)

    assert restored == {
        "collections": {"knowledge-model-a": 1234, "knowledge-model-b": 25},
        "media_files": 6,
        "deleted_collections": ["knowledge-model-new"],
    }
    index.reset_clients()  # as a new process would see it
    client = index.client()
    assert top_results(client, probes) == before
    assert {c.name: (c.metadata, c.configuration["hnsw"]) for c in client.list_collections()} == metadata_before
    assert media_content(media_root) == {k: v for k, v in media_before.items() if k != "link.txt"}
    assert (media_root / "empty-folder").is_dir()
    assert sorted(p.name for p in media_root.parent.iterdir()) == ["media"]  # no staging folder left
    exported: Any = client.get_collection("knowledge-model-a").get(ids=["doc3-4"], include=["embeddings", "metadatas"])
    assert np.array_equal(np.asarray(exported["embeddings"][0], dtype=np.float32), vectors["knowledge-model-a"][34])
    assert exported["metadatas"][0] == {"document_id": 3, "index": 4, "title": "Doc 3", "public": True}
    assert outside.read_text() == "not part of the media"


def test_an_empty_knowledge_base_round_trips(places: Path) -> None:
    target = places / "backups" / "rag.tar.gz"
    result = rag.dump(target, media_root=places / "no-media-yet")
    assert result.details["collections"] == {}
    assert result.details["media_files"] == 0
    assert rag.verify(target)["ok"] is True
    assert rag.restore(target, media_root=places / "no-media-yet")["collections"] == {}
    assert list((places / "no-media-yet").iterdir()) == []


def test_a_media_root_that_is_a_mount_point_keeps_its_folder(places: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Docker volume cannot be renamed: its entries are swapped instead of the folder."""
    media_root = places / "var" / "media"
    files = make_media(media_root)
    target = places / "backups" / "rag.tar.gz"
    rag.dump(target, media_root=media_root)
    shutil.rmtree(media_root / "knowledge")
    (media_root / "later.txt").write_text("later")
    folder_inode = media_root.stat().st_ino
    real_ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == media_root or real_ismount(p))

    rag.restore(target, media_root=media_root)

    assert media_root.stat().st_ino == folder_inode
    assert media_content(media_root) == files
    assert sorted(p.name for p in (places / "var").iterdir()) == ["media"]


def tampered(path: Path, good: Path, extra: tarfile.TarInfo, data: bytes = b"") -> Path:
    """``good``'s members plus ``extra``, recompressed."""
    with tarfile.open(good) as source, tarfile.open(path, "w:gz") as out:
        for member in source:
            out.addfile(member, source.extractfile(member) if member.isfile() else None)
        out.addfile(extra, io.BytesIO(data) if extra.isfile() else None)
    return path


def test_a_tampered_archive_is_refused_and_nothing_is_written(places: Path) -> None:
    client = index.client()
    populate(client)
    media_root = places / "var" / "media"
    make_media(media_root)
    good = places / "good.tar.gz"
    rag.dump(good, media_root=media_root)
    (media_root / "current.txt").write_text("current")
    media_before = media_content(media_root)

    evil = tarfile.TarInfo("media/../../evil")
    evil.size = 4
    absolute = tarfile.TarInfo(str(places / "absolute-evil"))
    absolute.size = 4
    link = tarfile.TarInfo("media/link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    hard = tarfile.TarInfo("media/hard")
    hard.type = tarfile.LNKTYPE
    hard.linkname = "media/empty.txt"
    stray = tarfile.TarInfo("elsewhere/file")
    stray.size = 4
    for number, member in enumerate([evil, absolute, link, hard, stray]):
        archive = tampered(places / f"bad{number}.tar.gz", good, member, b"evil")
        assert rag.verify(archive)["ok"] is False, member.name
        with pytest.raises(BackupError, match="not restorable"):
            rag.restore(archive, media_root=media_root)
    assert not (places / "var" / "evil").exists()
    assert not (places / "evil").exists()
    assert not (places / "absolute-evil").exists()
    assert media_content(media_root) == media_before
    assert sorted(p.name for p in (places / "var").iterdir()) == ["media"]
    assert {c.name: c.count() for c in client.list_collections()} == {
        "knowledge-model-a": 1234,
        "knowledge-model-b": 25,
    }


def test_verify_detects_truncation_and_wrong_counts(places: Path) -> None:
    populate(index.client())
    media_root = places / "var" / "media"
    make_media(media_root)
    good = places / "good.tar.gz"
    rag.dump(good, media_root=media_root)
    media_before = media_content(media_root)

    data = good.read_bytes()
    truncated = places / "truncated.tar.gz"
    truncated.write_bytes(data[: len(data) // 2])
    report = rag.verify(truncated)
    assert report["ok"] is False
    assert report["problems"]
    with pytest.raises(BackupError):
        rag.restore(truncated, media_root=media_root)
    assert media_content(media_root) == media_before

    # collections.json says one more record than the archive holds
    raw = io.BytesIO()
    with tarfile.open(good) as source, tarfile.open(fileobj=raw, mode="w") as out:
        for member in source:
            handle = source.extractfile(member)
            payload = handle.read() if handle is not None else b""
            if member.name == "chroma/collections.json":
                header = json.loads(payload)
                header["collections"][1]["count"] += 1
                payload = json.dumps(header).encode()
                member.size = len(payload)
            out.addfile(member, io.BytesIO(payload) if member.isfile() else None)
    miscounted = places / "miscounted.tar.gz"
    miscounted.write_bytes(gzip.compress(raw.getvalue()))
    report = rag.verify(miscounted)
    assert report["ok"] is False
    assert any("knowledge-model-b has 25 records" in p for p in report["problems"])

    (places / "not-gzip.tar.gz").write_bytes(b"plain text")
    assert rag.verify(places / "not-gzip.tar.gz")["ok"] is False


def test_index_write_pause_excludes_writers_and_writers_share(places: Path) -> None:
    folder = places / "locks"
    with rag.index_write_pause(shared=True, directory=folder), rag.index_writing(directory=folder):
        # Two writers at once (and re-entrant in a thread); a backup cannot pause them meanwhile.
        fd = os.open(folder / rag.LOCK_NAME, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # another writer is welcome
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        errors: list[BaseException] = []

        def backup() -> None:
            try:
                with rag.index_write_pause(directory=folder, timeout=0.2):
                    pass
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=backup)
        thread.start()
        thread.join()
        assert len(errors) == 1
        assert isinstance(errors[0], BackupError)
        with pytest.raises(BackupError, match="writing to the index"), rag.index_write_pause(directory=folder):
            pass

    with rag.index_write_pause(directory=folder):
        with rag.index_write_pause(directory=folder), rag.index_writing(directory=folder):
            pass  # re-entrant: the backup's own thread may nest
        outcome: list[str] = []

        def writer() -> None:
            try:
                with rag.index_writing(directory=folder, timeout=0.2):
                    outcome.append("wrote")
            except BackupError:
                outcome.append("waited")

        thread = threading.Thread(target=writer)
        thread.start()
        thread.join()
        assert outcome == ["waited"]


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_SH if sys.argv[2] == "shared" else fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("mode", ["shared", "exclusive"])
def test_the_lock_works_across_processes_and_is_freed_when_its_holder_dies(places: Path, mode: str) -> None:
    folder = places / "locks"
    folder.mkdir()
    holder = processes.popen([sys.executable, "-c", HOLD, str(folder / rag.LOCK_NAME), mode], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        # a backup waits for a writer, and for another backup
        with pytest.raises(BackupError, match="index is busy"), rag.index_write_pause(directory=folder, timeout=0.1):
            pass
        if mode == "shared":
            with rag.index_writing(directory=folder, timeout=0):
                pass  # writers share
        else:
            with pytest.raises(BackupError, match="index is busy"), rag.index_writing(directory=folder, timeout=0.1):
                pass
        holder.kill()  # dies without releasing anything: the kernel frees the lock
        holder.wait()
        with rag.index_write_pause(directory=folder, timeout=5):
            pass
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_the_backup_waits_for_writers_and_fails_rather_than_waiting_for_ever(places: Path) -> None:
    target = places / "backups" / "rag.tar.gz"
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:  # an ingestion in another thread of the process
        with rag.index_writing():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(5)
        with pytest.raises(BackupError, match="index is busy"):
            rag.dump(target, media_root=places / "media", lock_timeout=0.1)
        assert not target.exists()
    finally:
        release.set()
        thread.join()
    rag.dump(target, media_root=places / "media", lock_timeout=5)
    assert target.exists()


# --- through a Chroma server ----------------------------------------------------------------


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if binary is None:
        if IN_CI:
            pytest.fail("the chroma command (chromadb package) is missing")
        pytest.skip("the chroma command (chromadb package) is missing")
    port = free_port()
    process = processes.popen(
        [binary, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2):
                    break
            except OSError:
                assert process.poll() is None, "chroma run exited"
                assert time.monotonic() < deadline, "chroma run did not start"
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_through_the_chroma_server_other_clients_see_the_restored_index(
    places: Path, settings, chroma_server: str
) -> None:
    settings.CHROMA_URL = chroma_server
    index.reset_clients()
    client = index.client()
    vectors = populate(client)
    media_root = places / "var" / "media"
    make_media(media_root)
    probes = {name: v[[1, 2]] for name, v in vectors.items()}
    before = top_results(client, probes)
    target = places / "backups" / "rag.tar.gz"

    result = rag.dump(target, media_root=media_root)
    assert result.details["chroma"] == "server"
    assert result.details["collections"] == {"knowledge-model-a": 1234, "knowledge-model-b": 25}

    client.delete_collection("knowledge-model-a")
    other = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_server.rsplit(":", 1)[1]))  # another process
    assert [c.name for c in other.list_collections()] == ["knowledge-model-b"]

    rag.restore(target, media_root=media_root)

    assert top_results(other, probes) == before
    assert {c.name: c.count() for c in other.list_collections()} == result.details["collections"]
