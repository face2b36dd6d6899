"""What the backup commands share: progress on stderr, errors as one CommandError line."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def progress_printer() -> Callable[[str], None]:
    started = time.monotonic()

    def show(message: str) -> None:
        sys.stderr.write(f"[{time.monotonic() - started:6.1f}s] {message}\n")
        sys.stderr.flush()

    return show


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{value:.1f} TB"
