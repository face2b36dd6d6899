"""Child processes (pg_dump, pg_restore, redis-server) that die with their parent."""

from __future__ import annotations

import ctypes
import fcntl
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import IO, Any

PR_SET_PDEATHSIG = 1
TAIL_LINES = 20
PIPE_SIZE = 1024 * 1024  # Linux's default ceiling for an unprivileged process (fs.pipe-max-size)


def _die_with_parent() -> None:
    # Linux: the kernel sends SIGKILL to the child when the thread that started it exits, so
    # a SIGKILLed worker never leaves a pg_dump holding a snapshot or a lock.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def popen(command: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(list(command), preexec_fn=_die_with_parent, **kwargs)  # noqa: S603  (fixed tools, no shell)


def widen_pipe(stream: IO[bytes]) -> None:
    """Grow the pipe behind ``stream`` from Linux's 64 KB to ``PIPE_SIZE``.

    pg_restore reads its stdin 4 KB at a time: through a 64 KB pipe, the two ends take turns
    every few reads, and on a busy machine the switching costs as much CPU as the data itself.
    A pipe that holds a whole chunk lets each side run for longer. Where the kernel refuses
    (another system, a lower ``fs.pipe-max-size``, a user over its pipe quota), the pipe keeps
    its size and only the speed differs."""
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setpipe is not None:
        with suppress(OSError):
            fcntl.fcntl(stream.fileno(), setpipe, PIPE_SIZE)


class StderrReader:
    """Reads a child's stderr line by line in a thread of its own (while the caller streams
    the child's stdin or stdout), hands each line to ``on_line`` and keeps the last ones."""

    def __init__(self, stream: IO[bytes], on_line: Callable[[str], None] | None = None) -> None:
        self._stream = stream
        self._on_line = on_line
        self._lines: deque[str] = deque(maxlen=TAIL_LINES)
        self._thread = threading.Thread(target=self._read, name="child-stderr", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for raw in self._stream:
            line = raw.decode(errors="replace").rstrip()
            self._lines.append(line)
            if self._on_line is not None:
                self._on_line(line)

    def join(self) -> str:
        """Wait for the child to close its stderr; return the kept lines."""
        self._thread.join()
        return "\n".join(self._lines)
