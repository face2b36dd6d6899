"""Writing backup files so that nothing half-written ever looks complete.

Every file is written under a temporary name in its final folder, hashed (SHA-256) and
counted while it is written, fsynced, and renamed into place only when complete; on any
error the temporary file is removed. A reader therefore sees either no file or a whole one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    size: int
    sha256: str


class HashingWriter:
    """A binary file object that hashes and counts what goes through it."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        self.size += len(data)
        return self._handle.write(data)

    def flush(self) -> None:
        self._handle.flush()

    def fileno(self) -> int:
        return self._handle.fileno()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_name(final: Path) -> Path:
    return final.with_name(f".{final.name}.tmp-{os.getpid()}")


@contextmanager
def atomic_file(final: Path) -> Iterator[HashingWriter]:
    """Write ``final`` atomically; the yielded writer hashes and counts the bytes.

    After the block, ``writer.size`` and ``writer.sha256`` describe the renamed file.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(final)
    try:
        with open(temporary, "wb") as handle:
            writer = HashingWriter(handle)
            yield writer
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        fsync_directory(final.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """For tools that write a file themselves (``pg_dump -f``): yields the temporary path to
    write; it is fsynced and renamed to ``final`` when the block succeeds, removed otherwise."""
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(final)
    try:
        yield temporary
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        fsync_directory(final.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def describe(path: Path) -> WrittenFile:
    return WrittenFile(path=path, size=path.stat().st_size, sha256=sha256_file(path))
