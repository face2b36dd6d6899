"""The knowledge base: every uploaded file under MEDIA_ROOT and an export of the Chroma index.

One ``.tar.gz``, streamed (``w|gz``) into the backup file, memory flat whatever the size::

    chroma/collections.json            {"format": 1, "chroma_version", "collections": [
                                         {"name", "metadata", "configuration", "count", "file"}]}
    chroma/collections/<name>.jsonl    one record a line: {"id", "embedding", "document", "metadata"}
    media/...                          every file under MEDIA_ROOT (knowledge documents,
                                       research-task attachments, ...)

The index is exported through Chroma's client API (``apps.knowledge.index.client()``: the
Chroma server when ``CHROMA_URL`` is set, the embedded store otherwise), page by page, so the
backup is the same for both and does not depend on Chroma's on-disk format; it is restored
through the same API, so processes using the Chroma server see the restored index at once.

Consistency: the archive is taken inside ``index_write_pause()``, an exclusive ``flock`` on
``BACKUP_DIR/.index-write.lock``; code writing to the index holds the same lock in shared
mode (``index_writing()``), so writers run together but never during a backup or restore.
``BACKUP_DIR`` is the folder chosen because every process that writes the index or takes a
backup (web, worker, beat, a command) already mounts it, whereas ``CHROMA_PATH`` is not
mounted at all where the index lives in a Chroma server. The counts of the collections are
taken at the start of the pause and checked against the records exported.
"""

from __future__ import annotations

import errno
import fcntl
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # chromadb and numpy are imported when first used (0.6 s at every start)
    from chromadb.api import ClientAPI
from django.conf import settings

from apps.backups.engines.common import BackupError, ComponentResult
from apps.backups.files import WrittenFile, atomic_file
from apps.knowledge import index

Progress = Callable[[str], None]

FORMAT = 1
MEDIA = "media"
CHROMA = "chroma"
COLLECTIONS_JSON = "chroma/collections.json"
COLLECTIONS_DIR = "chroma/collections"
PAGE_SIZE = 500  # records per page of an export
RESTORE_BATCH_BYTES = 16 * 1024 * 1024  # JSON read before a batch is added on restore
LOCK_NAME = ".index-write.lock"
LOCK_TIMEOUT = 600.0  # seconds a backup waits for the running index writes to finish

_held = threading.local()


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


# --- pausing index writes -------------------------------------------------------------------


def chroma_version() -> str:
    import chromadb

    return str(chromadb.__version__)


def lock_directory() -> Path:
    """The folder of the index write lock: ``BACKUP_DIR`` (see the module docstring)."""
    return Path(settings.BACKUP_DIR)


def _acquire(fd: int, operation: int, timeout: float | None, what: str) -> None:
    if timeout is None:
        fcntl.flock(fd, operation)
        return
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise BackupError(f"could not {what} within {timeout:.0f} s: the index is busy") from None
            time.sleep(delay)  # waiting for another process's lock: there is no event to wait on
            delay = min(delay * 2, 0.2)


@contextmanager
def index_write_pause(
    *, shared: bool = False, directory: Path | None = None, timeout: float | None = LOCK_TIMEOUT
) -> Iterator[None]:
    """Hold the index write lock: exclusive (backup, restore: no index writes meanwhile) or
    ``shared`` (a write to the index: any number together, none during a backup).

    A cross-process ``flock``: the kernel frees it when its holder dies, however it dies.
    Re-entrant within a thread (a nested call is a no-op when the lock held is at least as
    strong); a thread holding it shared cannot upgrade it (that would deadlock): BackupError.
    ``timeout`` None waits for ever; otherwise BackupError after that many seconds.
    """
    folder = Path(directory) if directory is not None else lock_directory()
    key = str(folder.resolve())
    held: dict[str, str] | None = getattr(_held, "modes", None)
    if held is None:
        held = _held.modes = {}
    current = held.get(key)
    if current == "exclusive" or (current == "shared" and shared):
        yield
        return
    if current == "shared":
        raise BackupError("cannot pause index writes in a thread that is writing to the index")
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o660)
    try:
        mode = "shared" if shared else "exclusive"
        what = "take the index write lock" if shared else "pause writes to the knowledge index"
        _acquire(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, timeout, what)
        held[key] = mode
        try:
            yield
        finally:
            del held[key]
    finally:
        os.close(fd)  # releases the lock


def index_writing(
    *, directory: Path | None = None, timeout: float | None = LOCK_TIMEOUT
) -> AbstractContextManager[None]:
    """The lock taken by code writing to the index (shared mode of ``index_write_pause``)."""
    return index_write_pause(shared=True, directory=directory, timeout=timeout)


# --- the Chroma side ------------------------------------------------------------------------


def _client() -> ClientAPI:
    try:
        return index.client()
    except index.StoreInUse as exc:
        raise BackupError(str(exc)) from None
    except Exception as exc:  # the Chroma server is down, unreachable, incompatible
        raise BackupError(f"Chroma is not reachable: {exc}") from None


def _where() -> str:
    return f"the Chroma server {settings.CHROMA_URL}" if settings.CHROMA_URL else f"the store {settings.CHROMA_PATH}"


def _jsonable(value: Any) -> Any:
    """Chroma configurations hold plain values; anything else (an embedding function object)
    is dropped, since collections are always used with explicit vectors."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return None
    return value


def _describe(chroma: ClientAPI) -> list[dict[str, Any]]:
    described = []
    for listed in sorted(chroma.list_collections(), key=lambda c: c.name):
        collection = chroma.get_collection(listed.name, embedding_function=None)
        with warnings.catch_warnings():  # "legacy embedding function config": we never use one
            warnings.simplefilter("ignore", DeprecationWarning)
            configuration = dict(collection.configuration or {})
        described.append(
            {
                "name": collection.name,
                "metadata": dict(collection.metadata or {}) or None,
                "configuration": {
                    key: _jsonable(configuration.get(key))
                    for key in ("hnsw", "spann")
                    if _jsonable(configuration.get(key)) is not None
                },
                "count": collection.count(),
                "file": f"{COLLECTIONS_DIR}/{collection.name}.jsonl",
            }
        )
    return described


def _export(chroma: ClientAPI, name: str, handle: IO[bytes]) -> int:
    """Write every record of the collection ``name`` to ``handle`` as JSON lines; the count."""
    import numpy

    collection = chroma.get_collection(name, embedding_function=None)
    written = 0
    while True:
        page = collection.get(limit=PAGE_SIZE, offset=written, include=["embeddings", "documents", "metadatas"])
        ids = page["ids"]
        if not ids:
            return written
        embeddings = page.get("embeddings")
        documents = cast(list[Any], page.get("documents")) or [None] * len(ids)
        metadatas = cast(list[Any], page.get("metadatas")) or [None] * len(ids)
        if embeddings is None:
            raise BackupError(f"Chroma returned no embeddings for the collection {name}")
        for i, record_id in enumerate(ids):
            record = {
                "id": record_id,
                "embedding": numpy.asarray(embeddings[i], dtype=numpy.float64).tolist(),
                "document": documents[i],
                "metadata": dict(metadatas[i]) if metadatas[i] else None,
            }
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
            handle.write(b"\n")
        written += len(ids)


def _add_file(archive: tarfile.TarFile, name: str, handle: IO[bytes], size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = int(time.time())
    handle.seek(0)
    archive.addfile(info, handle)


# --- dump -----------------------------------------------------------------------------------


def _media_entries(media_root: Path) -> Iterator[tuple[Path, str, bool]]:
    """(path, archive name, is_dir) of every directory and regular file under ``media_root``,
    sorted; symbolic links and special files are left out (never followed)."""
    if not media_root.is_dir():
        return
    for folder, dirnames, filenames in os.walk(media_root):
        dirnames.sort()
        here = Path(folder)
        relative = here.relative_to(media_root)
        if relative != Path("."):
            yield here, f"{MEDIA}/{relative.as_posix()}", True
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
        for filename in sorted(filenames):
            path = here / filename
            if path.is_file() and not path.is_symlink():
                yield path, f"{MEDIA}/{(relative / filename).as_posix()}", False


def _add_media(archive: tarfile.TarFile, path: Path, name: str, is_dir: bool) -> int | None:
    """Add one media entry; the bytes of a file, None for a folder or a vanished entry.

    Every file is stored as a plain file (a hard-linked upload too: restore accepts no
    links), read through a descriptor opened without following links, so its size and
    content come from the same file even if the path changes meanwhile.
    """
    info = tarfile.TarInfo(name)
    try:
        if is_dir:
            status = path.lstat()
            info.type = tarfile.DIRTYPE
            info.mode = stat.S_IMODE(status.st_mode)
            info.mtime = int(status.st_mtime)
            archive.addfile(info)
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):  # deleted while the archive was written
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a link meanwhile: never followed
            return None
        raise
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return None
        info.size = status.st_size
        info.mode = stat.S_IMODE(status.st_mode)
        info.mtime = int(status.st_mtime)
        archive.addfile(info, handle)
    return info.size


def dump(
    target: Path,
    *,
    media_root: Path,
    progress: Progress | None = None,
    lock_timeout: float | None = LOCK_TIMEOUT,
) -> ComponentResult:
    """Write the knowledge base (media files and the Chroma index) to ``target`` atomically."""
    media_root = Path(media_root)
    target = Path(target)
    with index_write_pause(timeout=lock_timeout):
        chroma = _client()
        try:
            collections = _describe(chroma)
        except BackupError:
            raise
        except Exception as exc:
            raise BackupError(f"listing the collections of {_where()} failed: {exc}") from None
        _say(progress, f"rag: {len(collections)} collections in {_where()}, index writes paused")
        media_files = media_bytes = 0
        with atomic_file(target) as writer, tarfile.open(fileobj=writer, mode="w|gz") as archive:  # type: ignore[call-overload]
            header = json.dumps(
                {"format": FORMAT, "chroma_version": chroma_version(), "collections": collections}, indent=2
            ).encode()
            _add_file(archive, COLLECTIONS_JSON, io.BytesIO(header), len(header))
            for described in collections:
                # A member's size goes before its data: each export is spooled to a temporary
                # file beside the backup (disk, not memory), then copied into the archive.
                with tempfile.TemporaryFile(dir=target.parent) as spool:
                    try:
                        exported = _export(chroma, described["name"], spool)
                    except BackupError:
                        raise
                    except Exception as exc:
                        raise BackupError(f"exporting the collection {described['name']} failed: {exc}") from None
                    if exported != described["count"]:
                        raise BackupError(
                            f"the collection {described['name']} changed during the backup "
                            f"({described['count']} records counted, {exported} exported): "
                            "something writes to the index without taking the index write lock"
                        )
                    _add_file(archive, described["file"], spool, spool.tell())
                _say(progress, f"rag: collection {described['name']}: {exported} records")
            for path, name, is_dir in _media_entries(media_root):
                size = _add_media(archive, path, name, is_dir)
                if size is not None:
                    media_files += 1
                    media_bytes += size
        _say(progress, f"rag: {media_files} media files ({media_bytes} bytes)")
    return ComponentResult(
        files=[WrittenFile(path=target, size=writer.size, sha256=writer.sha256)],
        details={
            "engine": "rag",
            "collections": {c["name"]: c["count"] for c in collections},
            "media_files": media_files,
            "media_bytes": media_bytes,
            "chroma_version": chroma_version(),
            "chroma": "server" if settings.CHROMA_URL else "embedded",
        },
    )


# --- reading an archive ---------------------------------------------------------------------


def _member_problem(member: tarfile.TarInfo) -> str | None:
    """Why ``member`` may not be extracted, or None."""
    name = member.name
    path = PurePosixPath(name)
    if not name or name.startswith("/") or path.is_absolute():
        return f"absolute or invalid member name {name!r}"
    if any(part in ("..", "") for part in name.rstrip("/").split("/")) or ".." in path.parts:
        return f"member escapes the archive: {name!r}"
    if path.parts[0] not in (MEDIA, CHROMA):
        return f"unexpected member {name!r} (only media/ and chroma/)"
    if not (member.isfile() or member.isdir()):
        return f"member {name!r} is a link or a special file"
    in_chroma = member.isfile() and path.parts[0] == CHROMA and name != COLLECTIONS_JSON
    if in_chroma and (len(path.parts) != 3 or f"{path.parent}" != COLLECTIONS_DIR or path.suffix != ".jsonl"):
        return f"unexpected member {name!r} in chroma/"
    return None


def _open_stream(source: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(source, mode="r|gz")
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BackupError(f"cannot open the archive {source.name}: {exc}") from None


def _read_header(data: bytes) -> dict[str, Any]:
    header = json.loads(data)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"unknown collections.json format {header.get('format') if isinstance(header, dict) else '?'}")
    for described in header["collections"]:
        if described["file"] != f"{COLLECTIONS_DIR}/{described['name']}.jsonl":
            raise ValueError(f"unexpected file {described['file']!r} for the collection {described['name']!r}")
    return header


def verify(source: Path) -> dict[str, Any]:
    """Read the archive (streaming): member names, each collection's records against
    ``collections.json`` (count, one vector dimension), media files. Changes nothing."""
    problems: list[str] = []
    header: dict[str, Any] | None = None
    found: dict[str, int] = {}
    media_files = 0
    try:
        with _open_stream(Path(source)) as archive:
            for member in archive:
                problem = _member_problem(member)
                if problem:
                    problems.append(problem)
                    continue
                if member.isdir():
                    continue
                if member.name.startswith(f"{MEDIA}/"):
                    media_files += 1
                    continue
                handle = archive.extractfile(member)
                assert handle is not None
                if member.name == COLLECTIONS_JSON:
                    try:
                        header = _read_header(handle.read())
                    except (ValueError, KeyError, TypeError) as exc:
                        problems.append(f"invalid collections.json: {exc}")
                    continue
                if header is None:
                    problems.append(f"{member.name} comes before collections.json")
                    continue
                lines, dimensions = 0, set()
                for number, line in enumerate(handle, 1):
                    try:
                        record = json.loads(line)
                        dimensions.add(len(record["embedding"]))
                        if not isinstance(record["id"], str):
                            raise TypeError("id is not a string")
                    except (ValueError, KeyError, TypeError) as exc:
                        problems.append(f"{member.name} line {number}: invalid record ({exc})")
                        break
                    lines += 1
                if len(dimensions) > 1:
                    problems.append(f"{member.name}: vectors of different dimensions {sorted(dimensions)}")
                found[member.name] = lines
    except BackupError as exc:
        problems.append(str(exc))
    except (OSError, tarfile.TarError, EOFError, ValueError) as exc:  # truncated, corrupt gzip
        problems.append(f"the archive is unreadable: {type(exc).__name__}: {exc}")
    collections: dict[str, int] = {}
    if header is None:
        problems.append("the archive has no valid chroma/collections.json")
    else:
        for described in header["collections"]:
            collections[described["name"]] = described["count"]
            exported = found.get(described["file"])
            if exported is None:
                problems.append(f"the records of the collection {described['name']} are missing")
            elif exported != described["count"]:
                problems.append(
                    f"the collection {described['name']} has {exported} records, "
                    f"collections.json says {described['count']}"
                )
    return {
        "ok": not problems,
        "collections": collections,
        "media_files": media_files,
        "chroma_version": header.get("chroma_version") if header else None,
        "problems": problems,
    }


# --- restore --------------------------------------------------------------------------------


def _recreate(chroma: ClientAPI, described: dict[str, Any], records: IO[bytes], batch: int) -> int:
    import numpy

    name = described["name"]
    existing = {c.name for c in chroma.list_collections()}
    if name in existing:
        chroma.delete_collection(name)
    configuration = described.get("configuration") or None
    collection = chroma.create_collection(
        name,
        metadata=described.get("metadata") or None,
        configuration=cast(Any, configuration),
        embedding_function=None,
    )
    added = pending_bytes = 0
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal added, pending_bytes
        pending_bytes = 0
        if not pending:
            return
        collection.add(
            ids=[r["id"] for r in pending],
            embeddings=numpy.asarray([r["embedding"] for r in pending], dtype=numpy.float32),
            documents=[r.get("document") for r in pending],  # type: ignore[misc]
            metadatas=[r.get("metadata") or None for r in pending],  # type: ignore[misc]
        )
        added += len(pending)
        pending.clear()

    for line in records:
        pending.append(json.loads(line))
        pending_bytes += len(line)
        # Chroma's batch limit, and a bound on memory: parsed vectors take ~4x their JSON size.
        if len(pending) >= batch or pending_bytes >= RESTORE_BATCH_BYTES:
            flush()
    flush()
    return added


def _write_member(archive: tarfile.TarFile, member: tarfile.TarInfo, staging: Path) -> None:
    relative = PurePosixPath(member.name).relative_to(MEDIA)
    destination = staging.joinpath(*relative.parts)
    if member.isdir():
        destination.mkdir(parents=True, exist_ok=True)
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle = archive.extractfile(member)
    assert handle is not None
    with open(destination, "xb") as out:
        shutil.copyfileobj(handle, out, 1024 * 1024)
    os.chmod(destination, (member.mode & 0o755) | 0o600)
    os.utime(destination, (member.mtime, member.mtime))


def _staging_places(media_root: Path) -> tuple[Path, Path]:
    """Where the restored files are extracted and where the old ones go before removal.

    Beside MEDIA_ROOT normally (the folder itself is swapped); inside it when it is a
    mount point (a Docker volume cannot be renamed) or its parent is not writable, its
    entries are swapped instead.
    """
    tag = f"{os.getpid()}-{int(time.time())}"
    in_place = os.path.ismount(media_root) or not os.access(media_root.parent, os.W_OK)
    if media_root.is_dir() and in_place:
        return media_root / f".restore-new-{tag}", media_root / f".restore-old-{tag}"
    return (
        media_root.parent / f".{media_root.name}.restore-new-{tag}",
        media_root.parent / f".{media_root.name}.restore-old-{tag}",
    )


def _swap_in(staging: Path, old: Path, media_root: Path) -> None:
    if staging.parent == media_root:  # a mount point: swap its entries
        old.mkdir()
        for entry in media_root.iterdir():
            if entry not in (staging, old):
                os.rename(entry, old / entry.name)
        for entry in staging.iterdir():
            os.rename(entry, media_root / entry.name)
        staging.rmdir()
    else:
        if media_root.exists():
            os.rename(media_root, old)
        os.rename(staging, media_root)
    shutil.rmtree(old, ignore_errors=True)


def restore(
    source: Path,
    *,
    media_root: Path,
    progress: Progress | None = None,
    exact: bool = True,
    lock_timeout: float | None = LOCK_TIMEOUT,
) -> dict[str, Any]:
    """Replace MEDIA_ROOT's content and every Chroma collection by the archive's.

    The whole archive is checked first (``verify``: member names, record counts), so a
    tampered or damaged archive changes nothing. ``exact``: also delete the collections the
    archive does not hold.
    """
    source = Path(source)
    media_root = Path(media_root)
    if media_root.is_symlink():  # replace the content of the folder it points to, keep the link
        media_root = media_root.resolve()
    report = verify(source)
    if not report["ok"]:
        raise BackupError(f"the archive {source.name} is not restorable: " + "; ".join(report["problems"][:5]))
    _say(progress, f"rag: archive checked ({len(report['collections'])} collections, {report['media_files']} files)")
    with index_write_pause(timeout=lock_timeout):
        chroma = _client()
        try:
            batch = max(1, min(chroma.get_max_batch_size(), 5000))
        except Exception as exc:
            raise BackupError(f"{_where()} is not reachable: {exc}") from None
        staging, old = _staging_places(media_root)
        try:
            staging.mkdir(parents=True)
        except OSError as exc:
            raise BackupError(f"cannot prepare the restore of {media_root}: {exc}") from None
        header: dict[str, Any] = {}
        by_file: dict[str, dict[str, Any]] = {}
        restored: dict[str, int] = {}
        media_files = 0
        try:
            with _open_stream(source) as archive:
                for member in archive:
                    if _member_problem(member):  # the archive changed since it was verified
                        raise BackupError(f"refusing the archive member {member.name!r}")
                    if member.name.startswith(f"{MEDIA}/"):
                        _write_member(archive, member, staging)
                        media_files += int(member.isfile())
                        continue
                    if member.isdir():
                        continue
                    handle = archive.extractfile(member)
                    assert handle is not None
                    if member.name == COLLECTIONS_JSON:
                        header = _read_header(handle.read())
                        by_file = {d["file"]: d for d in header["collections"]}
                        continue
                    described = by_file[member.name]
                    try:
                        restored[described["name"]] = _recreate(chroma, described, handle, batch)
                    except Exception as exc:
                        raise BackupError(f"restoring the collection {described['name']} failed: {exc}") from None
                    _say(progress, f"rag: collection {described['name']}: {restored[described['name']]} records")
            deleted = []
            if exact:
                for listed in chroma.list_collections():
                    if listed.name not in restored:
                        chroma.delete_collection(listed.name)
                        deleted.append(listed.name)
            _swap_in(staging, old, media_root)
        except (OSError, tarfile.TarError, EOFError, ValueError, KeyError) as exc:
            raise BackupError(f"restoring {source.name} failed: {exc}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    expected = report["collections"]
    if restored != expected:
        raise BackupError(f"the restored collections {restored} differ from the archive's {expected}")
    _say(progress, f"rag: {media_files} media files restored into {media_root}")
    return {"collections": restored, "media_files": media_files, "deleted_collections": deleted}
