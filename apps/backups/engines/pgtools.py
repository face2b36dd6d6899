"""Running pg_dump and pg_restore: finding them, their environment, their ``--verbose``
output, their exit codes, and the zstd-compressed archive streamed through their pipes.

pg_dump writes its custom-format archive uncompressed (``--compress=0``) to its stdout; this
process compresses it with zstd in zstd's worker threads (level 3, with a frame checksum) on the
way to disk, hashing it as it is written. pg_dump's own zlib compression runs on pg_dump's one
core and is the slowest part of a dump; zstd in parallel is about 2.5 times faster and gives a
smaller file. A restore decompresses into pg_restore's stdin, one read behind the file, and
writes the last of it only once the frame has ended and its checksum matched: pg_restore cannot
reach the end of its archive (and commit) before the whole file has been checked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO, Any, cast

import zstandard

from apps.backups import processes
from apps.backups.engines.common import BackupError
from apps.backups.files import CHUNK, WrittenFile, atomic_file

Progress = Callable[[str], None] | None

COMPRESSED_SUFFIX = ".zst"  # <timestamp>.dump.zst: a zstd-compressed custom-format archive
ZSTD_LEVEL = 3
_TOOL_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_INFO_LINE = re.compile(r"^pg_(?:dump|restore): (?!error|warning|detail|hint|fatal)", re.IGNORECASE)


def tool_env(db: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    password = db.get("PASSWORD") or (db.get("OPTIONS") or {}).get("password")
    if password:
        env["PGPASSWORD"] = str(password)
    return env


def find_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} not found on PATH: install the PostgreSQL client tools of the server's major "
            f"version or newer (e.g. the postgresql-client-15 package)"
        )
    return path


def tool_version(path: str) -> str:
    """``"15.20"`` from ``pg_dump --version``."""
    try:
        completed = processes.popen([path, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output, _ = completed.communicate(timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"cannot run {path} --version: {exc}") from exc
    match = _TOOL_VERSION.search(output.decode(errors="replace"))
    if completed.returncode != 0 or match is None:
        raise BackupError(f"unexpected output from {path} --version: {output.decode(errors='replace').strip()!r}")
    return ".".join(part for part in match.groups() if part is not None)


class ToolOutput:
    """Turns ``--verbose`` lines into progress messages and keeps the lines that explain a
    failure (errors and their detail), so the error message is not buried under progress."""

    def __init__(self, progress: Progress, pattern: re.Pattern[str], verb: str) -> None:
        self._progress = progress
        self._pattern = pattern
        self._verb = verb
        self.problems: deque[str] = deque(maxlen=12)

    def __call__(self, line: str) -> None:
        if not line.strip():
            return
        if _INFO_LINE.match(line):
            match = self._pattern.search(line)
            if match and self._progress is not None:
                self._progress(f"{self._verb} table {match.group(1)}")
            return
        self.problems.append(line)

    def explain(self, tail: str) -> str:
        return "\n".join(self.problems) or tail or "no error output"


def check_exit(code: int, stderr: ToolOutput, tail: str, what: str) -> None:
    if code != 0:
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        raise BackupError(f"{what} failed ({how}): {stderr.explain(tail)}")


def start(command: list[str], db: dict[str, Any], **streams: Any) -> subprocess.Popen[bytes]:
    try:
        return processes.popen(command, env=tool_env(db), stderr=subprocess.PIPE, **streams)
    except OSError as exc:
        raise BackupError(f"cannot run {command[0]}: {exc}") from exc


def run_tool(command: list[str], db: dict[str, Any], stderr: ToolOutput, what: str) -> None:
    process = start(command, db, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    assert process.stderr is not None
    tail = processes.StderrReader(process.stderr, stderr).join()
    check_exit(process.wait(), stderr, tail, what)


# --- the compressed archive -----------------------------------------------------------------


def zstd_threads() -> int:
    """zstd worker threads: the CPUs this process may run on, at most 4."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, available))


def dump_compressed(command: list[str], db: dict[str, Any], stderr: ToolOutput, target: Path) -> WrittenFile:
    """Run pg_dump with the archive on its stdout and write it to ``target`` through zstd,
    atomically (temporary name, fsync, rename); size and SHA-256 are taken as it is written."""
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=zstd_threads(), write_checksum=True)
    with atomic_file(target) as out:
        process = start(command, db, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        assert process.stdout is not None
        assert process.stderr is not None
        processes.widen_pipe(process.stdout)
        reader = processes.StderrReader(process.stderr, stderr)
        try:
            compressor.copy_stream(process.stdout, cast(IO[bytes], out), read_size=CHUNK, write_size=CHUNK)
        except BaseException:
            process.kill()  # a full disk, an interrupt: pg_dump must not go on holding its snapshot
            raise
        finally:
            process.stdout.close()
            code = process.wait()
            tail = reader.join()
        check_exit(code, stderr, tail, "pg_dump")
    return WrittenFile(path=target, size=out.size, sha256=out.sha256)


def feed(source: Path, sink: IO[bytes]) -> None:
    """Decompress ``source`` into ``sink``; raises when its frame is damaged or does not end.

    The output runs one read behind the input, and the last of it is written only once the
    frame has ended and its checksum matched: pg_restore cannot reach the end of its archive
    (and commit) before the whole file has been checked."""
    decompressor = zstandard.ZstdDecompressor().decompressobj(write_size=CHUNK)
    held = b""
    try:
        with open(source, "rb") as handle:
            for block in iter(lambda: handle.read(CHUNK), b""):
                data = decompressor.decompress(block)
                if held:
                    sink.write(held)
                held = data
    except zstandard.ZstdError as exc:
        raise BackupError(f"{source.name} is damaged: {exc}") from exc
    if not decompressor.eof:
        raise BackupError(f"{source.name} is truncated: its zstd frame does not end")
    if held:
        sink.write(held)


def run_restore(command: list[str], source: Path, db: dict[str, Any], stderr: ToolOutput) -> None:
    """Run pg_restore ``command`` on the archive ``source``, compressed or not."""
    if not source.name.endswith(COMPRESSED_SUFFIX):
        run_tool([*command, str(source)], db, stderr, "pg_restore")
        return
    process = start(command, db, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert process.stdin is not None
    assert process.stderr is not None
    processes.widen_pipe(process.stdin)
    reader = processes.StderrReader(process.stderr, stderr)
    problem: BaseException | None = None
    try:
        feed(source, process.stdin)
    except BrokenPipeError:
        pass  # pg_restore stopped reading (an error): its exit code and stderr say why
    except BaseException as exc:
        # Killed before its input ends, so before it can commit: nothing of a bad archive stays.
        process.kill()
        problem = exc
    finally:
        with suppress(OSError):
            process.stdin.close()
        code = process.wait()
        tail = reader.join()
    if problem is not None:
        raise problem
    check_exit(code, stderr, tail, "pg_restore")
