"""Child processes (pg_dump, pg_restore, redis-server) that die with their parent."""

from __future__ import annotations

import ctypes
import signal
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Linux: the kernel sends SIGKILL to the child when the thread that started it exits, so
    # a SIGKILLed worker never leaves a pg_dump holding a snapshot or a lock.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def popen(command: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(list(command), preexec_fn=_die_with_parent, **kwargs)  # noqa: S603  (fixed tools, no shell)


def run(command: Sequence[str], *, on_line: Callable[[str], None] | None = None, **kwargs: Any) -> tuple[int, str]:
    """Run ``command``; return its exit code and its stderr (last 20 lines kept)."""
    process = popen(command, stderr=subprocess.PIPE, **kwargs)
    lines: list[str] = []
    assert process.stderr is not None
    for raw in process.stderr:
        line = raw.decode(errors="replace").rstrip()
        lines = [*lines[-19:], line]
        if on_line is not None:
            on_line(line)
    return process.wait(), "\n".join(lines)
