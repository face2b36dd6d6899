"""The pipes to pg_dump and pg_restore: widened so that each side runs longer between switches."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.backups import processes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="F_SETPIPE_SZ is Linux's")


def _pipe_size(fd: int) -> int:
    return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)


def test_a_childs_stdin_pipe_holds_a_whole_chunk_after_widening() -> None:
    child = processes.popen(["sleep", "30"], stdin=subprocess.PIPE)
    try:
        assert child.stdin is not None
        fd = child.stdin.fileno()
        assert _pipe_size(fd) < processes.PIPE_SIZE  # Linux's default: 64 KB
        processes.widen_pipe(child.stdin)
        assert _pipe_size(fd) == processes.PIPE_SIZE
        # The child reads nothing, yet a whole chunk fits without blocking.
        os.set_blocking(fd, False)
        assert os.write(fd, b"x" * processes.PIPE_SIZE) == processes.PIPE_SIZE
    finally:
        child.kill()
        child.wait()
        if child.stdin is not None:
            child.stdin.close()


def test_widening_what_is_not_a_pipe_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "archive"
    with open(path, "wb") as handle:
        processes.widen_pipe(handle)  # EBADF from the kernel: ignored
        handle.write(b"data")
    assert path.read_bytes() == b"data"


def test_a_refused_size_leaves_the_pipe_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    read_end, write_end = os.pipe()
    try:
        before = _pipe_size(write_end)
        # A size the kernel refuses whoever asks (EINVAL; an unprivileged process asking for
        # more than fs.pipe-max-size gets EPERM): the pipe stays usable at its old size.
        monkeypatch.setattr(processes, "PIPE_SIZE", -1)
        with os.fdopen(write_end, "wb", closefd=False) as stream:
            processes.widen_pipe(stream)
        assert _pipe_size(write_end) == before
        os.write(write_end, b"still works")
        assert os.read(read_end, 64) == b"still works"
    finally:
        os.close(read_end)
        os.close(write_end)
