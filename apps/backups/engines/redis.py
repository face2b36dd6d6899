"""Redis: an RDB snapshot fetched over the replication protocol, restored key by key.

Dump: the way ``redis-cli --rdb`` does it. A raw connection authenticates, asks for the
snapshot alone (``REPLCONF rdb-only 1``; older servers answer an error, which is ignored),
announces that it understands the diskless form (``REPLCONF capa eof``) and sends ``SYNC``.
The server forks, answers ``\\n`` keep-alives while it prepares the snapshot, then
``$<length>\\r\\n`` and exactly that many bytes, or (diskless) ``$EOF:<40-byte mark>\\r\\n``
and the snapshot followed by the mark. The bytes are streamed in chunks into the backup
file (memory stays flat) and checked: the ``REDIS<version>`` header and the end-of-file
opcode before the 8-byte checksum. Nothing is written to the server's disk by us, no
fixed sleep is involved, and no file is left behind on failure.

Restore: the application cannot restart the live server or swap its data files, so the RDB
is loaded into a throwaway ``redis-server`` (a child that dies with this process, reachable
only through a Unix socket in a private temporary folder, saving nothing), and every key of
the URL's database is copied into the live server with ``DUMP`` + ``PTTL`` ->
``RESTORE ... REPLACE``, pipelined in batches. With ``exact`` the keys of that database
that are not in the snapshot are then deleted (SCAN + UNLINK); other databases of the live
server are never touched, and FLUSHALL/FLUSHDB are never used.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import redis as redis_py
from redis.backoff import NoBackoff
from redis.connection import SSLConnection, parse_url
from redis.retry import Retry

from apps.backups import processes
from apps.backups.engines.common import BackupError, ComponentResult
from apps.backups.files import CHUNK, WrittenFile, atomic_file

Progress = Callable[[str], None]

MAGIC = b"REDIS"
HEADER_SIZE = 9  # "REDIS" + four ASCII digits
EOF_OPCODE = 0xFF
CHECKSUM_SIZE = 8
EOF_MARK_SIZE = 40
MAX_LINE = 64 * 1024
READ_TIMEOUT = 60.0  # seconds without a byte from the server (keep-alives arrive every second)
SNAPSHOT_TIMEOUT = 6 * 3600.0  # the whole transfer
LOAD_TIMEOUT = 600.0  # a throwaway server loading the snapshot
COPY_BATCH = 200  # keys per SCAN page and per DUMP pipeline
COPY_BATCH_BYTES = 16 * 1024 * 1024
TEMP_DATABASES = 256  # enough for any snapshot: a server refuses an RDB using more than it has
PROGRESS_EVERY = 64 * 1024 * 1024


class SnapshotLoadError(BackupError):
    """The throwaway redis-server could not load the snapshot (corrupt, truncated, too new)."""


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _options(redis_url: str) -> dict[str, Any]:
    try:
        return parse_url(redis_url)
    except ValueError as exc:
        raise BackupError(f"invalid Redis URL: {exc}") from None


def _where(options: dict[str, Any]) -> str:
    """The server, for messages (never the password)."""
    if "path" in options:
        return f"unix:{options['path']}"
    return f"{options.get('host', 'localhost')}:{options.get('port', 6379)}"


# --- dump -------------------------------------------------------------------------------------


def _encode(*parts: str | bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _connect(options: dict[str, Any], timeout: float) -> socket.socket:
    if "path" in options:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(options["path"])
        except OSError:
            sock.close()
            raise
        return sock
    host = options.get("host", "localhost")
    sock = socket.create_connection((host, int(options.get("port", 6379))), timeout=timeout)
    if options.get("connection_class") is SSLConnection:
        context = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
        if str(options.get("ssl_cert_reqs", "required")).lower() in {"none", "cert_none"}:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            return context.wrap_socket(sock, server_hostname=host)
        except OSError:
            sock.close()
            raise
    return sock


def _line(stream: BinaryIO) -> bytes:
    line = stream.readline(MAX_LINE)
    if not line:
        raise BackupError("Redis closed the replication connection")
    return line


class _RdbCheck:
    """Keeps the first and last bytes of the stream to check the RDB framing."""

    def __init__(self) -> None:
        self.head = b""
        self.tail = b""
        self.size = 0

    def feed(self, block: bytes) -> None:
        if len(self.head) < HEADER_SIZE:
            self.head += block[: HEADER_SIZE - len(self.head)]
        self.tail = (self.tail + block)[-(CHECKSUM_SIZE + 1) :]
        self.size += len(block)

    def rdb_version(self) -> int:
        if not self.head.startswith(MAGIC):
            raise BackupError("the server did not send an RDB snapshot (no REDIS header)")
        digits = self.head[len(MAGIC) : HEADER_SIZE]
        if len(digits) != HEADER_SIZE - len(MAGIC) or not digits.isdigit():
            raise BackupError("the RDB snapshot has an invalid version header")
        if self.size < HEADER_SIZE + 1 + CHECKSUM_SIZE or self.tail[0] != EOF_OPCODE:
            raise BackupError("the RDB snapshot is truncated (no end-of-file marker before the checksum)")
        return int(digits)


def _receive(stream: BinaryIO, writer: Any, check: _RdbCheck, deadline: float, progress: Progress | None) -> str:
    """Read the SYNC answer and stream the snapshot into ``writer``; returns the transfer form."""
    while True:
        if time.monotonic() > deadline:
            raise BackupError("Redis did not start sending the snapshot in time")
        line = _line(stream)
        if line in (b"\n", b"\r\n"):  # keep-alive while the server prepares the snapshot
            continue
        break
    text = line.rstrip(b"\r\n")
    if text.startswith(b"-"):
        raise BackupError(f"Redis refused SYNC: {text[1:].decode(errors='replace')}")
    if not text.startswith(b"$"):
        raise BackupError(f"unexpected answer to SYNC: {text[:80]!r}")
    reported = 0
    if text.startswith(b"$EOF:"):
        mark = text[5:]
        if len(mark) != EOF_MARK_SIZE:
            raise BackupError("invalid end mark in the diskless snapshot header")
        pending = b""  # the last bytes, which may be the beginning of the mark
        while True:
            if time.monotonic() > deadline:
                raise BackupError("the snapshot transfer took too long")
            block = stream.read1(CHUNK)  # type: ignore[attr-defined]
            if not block:
                raise BackupError("Redis closed the connection before the end of the snapshot")
            pending += block
            found = pending.find(mark)
            if found >= 0:
                data = pending[:found]
                check.feed(data)
                writer.write(data)
                return "diskless"
            keep = len(pending) - (EOF_MARK_SIZE - 1)
            if keep > 0:
                data, pending = pending[:keep], pending[keep:]
                check.feed(data)
                writer.write(data)
            if check.size - reported >= PROGRESS_EVERY:
                reported = check.size
                _say(progress, f"redis: {check.size // (1024 * 1024)} MiB received")
    try:
        remaining = int(text[1:])
    except ValueError:
        raise BackupError(f"unexpected answer to SYNC: {text[:80]!r}") from None
    while remaining > 0:
        if time.monotonic() > deadline:
            raise BackupError("the snapshot transfer took too long")
        block = stream.read(min(CHUNK, remaining))
        if not block:
            raise BackupError(f"Redis closed the connection with {remaining} bytes of the snapshot still to come")
        check.feed(block)
        writer.write(block)
        remaining -= len(block)
        if check.size - reported >= PROGRESS_EVERY:
            reported = check.size
            _say(progress, f"redis: {check.size // (1024 * 1024)} MiB received")
    return "disk"


def _server_facts(redis_url: str, timeout: float) -> tuple[str, int]:
    client = redis_py.Redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        version = str(client.info("server").get("redis_version", ""))
        keys = int(client.dbsize())
    finally:
        client.close()
    return version, keys


def dump(
    redis_url: str,
    target: Path,
    *,
    progress: Progress | None = None,
    timeout: float = READ_TIMEOUT,
    snapshot_timeout: float = SNAPSHOT_TIMEOUT,
    diskless: bool = True,
) -> ComponentResult:
    """Fetch an RDB snapshot of the server at ``redis_url`` into ``target`` (written atomically).

    ``diskless``: announce the EOF capability, as ``redis-cli --rdb`` does, so that a server
    with ``repl-diskless-sync yes`` (the default since Redis 7) streams the snapshot without
    writing it to its disk (after ``repl-diskless-sync-delay``, 5 s by default).
    """
    options = _options(redis_url)
    where = _where(options)
    db = int(options.get("db", 0))
    try:
        version, keys = _server_facts(redis_url, timeout)
    except (redis_py.RedisError, OSError) as exc:
        raise BackupError(f"Redis at {where} is not reachable: {exc}") from None
    _say(progress, f"redis: fetching a snapshot of {where} (Redis {version}, {keys} keys in db {db})")
    check = _RdbCheck()
    try:
        sock = _connect(options, timeout)
    except OSError as exc:
        raise BackupError(f"Redis at {where} is not reachable: {exc}") from None
    try:
        stream: BinaryIO = sock.makefile("rb")
        try:
            password = options.get("password")
            if password:
                username = options.get("username")
                sock.sendall(_encode("AUTH", username, password) if username else _encode("AUTH", password))
                answer = _line(stream).rstrip(b"\r\n")
                if not answer.startswith(b"+"):
                    raise BackupError(f"Redis refused AUTH: {answer[1:].decode(errors='replace')}")
            # Snapshot only, no replication stream afterwards (Redis >= 7; an error otherwise).
            sock.sendall(_encode("REPLCONF", "rdb-only", "1"))
            _line(stream)
            if diskless:
                sock.sendall(_encode("REPLCONF", "capa", "eof"))
                _line(stream)
            sock.sendall(_encode("SYNC"))
            deadline = time.monotonic() + snapshot_timeout
            with atomic_file(target) as writer:
                transfer = _receive(stream, writer, check, deadline, progress)
                rdb_version = check.rdb_version()
        finally:
            stream.close()
    except TimeoutError:
        raise BackupError(f"Redis at {where} sent nothing for {timeout:.0f} s during the snapshot") from None
    except OSError as exc:
        raise BackupError(f"the snapshot transfer from Redis at {where} failed: {exc}") from None
    finally:
        sock.close()
    _say(progress, f"redis: snapshot of {check.size} bytes received ({transfer})")
    return ComponentResult(
        files=[WrittenFile(path=target, size=writer.size, sha256=writer.sha256)],
        details={
            "engine": "redis",
            "redis_version": version,
            "db": db,
            "keys": keys,
            "rdb_version": rdb_version,
            "transfer": transfer,
        },
    )


# --- the throwaway server ------------------------------------------------------------------


def read_header(source: Path) -> int:
    """The RDB version of ``source``; BackupError if it is not an RDB file."""
    try:
        with open(source, "rb") as handle:
            head = handle.read(HEADER_SIZE)
    except OSError as exc:
        raise BackupError(f"cannot read the Redis snapshot {source}: {exc}") from None
    digits = head[len(MAGIC) :]
    if not head.startswith(MAGIC) or len(digits) != HEADER_SIZE - len(MAGIC) or not digits.isdigit():
        raise SnapshotLoadError(f"{source.name} is not a Redis RDB snapshot")
    return int(digits)


def _log_tail(log: Path, lines: int = 3) -> str:
    """The last lines of the server's log, without their pid/date prefix."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    prefix = re.compile(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [*#.-] ")
    kept = [prefix.sub("", line.strip()) for line in text.splitlines() if line.strip() and "WARNING" not in line]
    return " | ".join(kept[-lines:]) or "(empty log)"


def _wait_until_loaded(process: subprocess.Popen[bytes], sock: Path, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.01
    # No retries of its own: this loop is the retry, and it must see the server exit at once.
    client = redis_py.Redis(
        unix_socket_path=str(sock), socket_timeout=5, socket_connect_timeout=5, retry=Retry(NoBackoff(), 0)
    )
    try:
        while True:
            if process.poll() is not None:
                raise SnapshotLoadError(f"redis-server could not load the snapshot: {_log_tail(log)}")
            if sock.exists():
                try:
                    client.ping()
                    if int(client.info("persistence").get("loading", 1)) == 0:
                        return
                except redis_py.ConnectionError:  # not listening yet, or still loading (LOADING)
                    pass
            if time.monotonic() > deadline:
                raise SnapshotLoadError(f"redis-server did not finish loading the snapshot within {timeout:.0f} s")
            time.sleep(delay)  # polling the server's state, not waiting a fixed time
            delay = min(delay * 2, 0.25)
    finally:
        client.close()


@contextmanager
def temporary_server(source: Path, *, load_timeout: float = LOAD_TIMEOUT) -> Iterator[Path]:
    """A throwaway redis-server that has loaded ``source``; yields its Unix socket path.

    It listens on no TCP port (a socket in a private 0700 temporary folder instead: no port
    to race for, nothing reachable from the network), saves nothing, and dies with this
    process (PDEATHSIG) if we are killed; it is stopped when the block ends.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise BackupError("redis-server is not installed (needed to read a Redis snapshot)")
    source = Path(source).resolve()
    read_header(source)
    with tempfile.TemporaryDirectory(prefix="cc-redis-") as folder:
        work = Path(folder)
        sock = work / "redis.sock"
        if len(str(sock)) > 100:
            raise BackupError(f"the temporary folder path is too long for a Unix socket: {work}")
        log = work / "redis.log"
        # A link, not a copy: the server only reads it (no save points), and a save would
        # replace the link by renaming over it, never write through it.
        (work / "dump.rdb").symlink_to(source)
        command = [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(work),
            "--dbfilename",
            "dump.rdb",
            "--save",
            "",
            "--appendonly",
            "no",
            "--databases",
            str(TEMP_DATABASES),
            "--logfile",
            str(log),
            "--daemonize",
            "no",
        ]
        process = processes.popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_until_loaded(process, sock, log, load_timeout)
            yield sock
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- restore and verify -------------------------------------------------------------------


def _scan_batches(client: redis_py.Redis, count: int) -> Iterator[list[bytes]]:
    """Every key of the client's database, in batches (clients here never decode responses)."""
    cursor: int = 0
    while True:
        cursor, keys = client.scan(cursor=cursor, count=count)
        if keys:
            yield [key if isinstance(key, bytes) else key.encode() for key in keys]
        if cursor == 0:
            return


def _copy_keys(snapshot: redis_py.Redis, live: redis_py.Redis, progress: Progress | None) -> int:
    copied = 0
    for keys in _scan_batches(snapshot, COPY_BATCH):
        read = snapshot.pipeline(transaction=False)
        for key in keys:
            read.dump(key)
            read.pttl(key)
        answers = read.execute()
        write = live.pipeline(transaction=False)
        pending = pending_bytes = 0
        for key, payload, ttl in zip(keys, answers[0::2], answers[1::2], strict=True):
            if payload is None or ttl == -2:  # expired between SCAN and DUMP
                continue
            write.restore(key, int(ttl) if ttl > 0 else 0, payload, replace=True)
            pending += 1
            pending_bytes += len(payload)
            if pending_bytes >= COPY_BATCH_BYTES:
                write.execute()
                copied += pending
                pending = pending_bytes = 0
        if pending:
            write.execute()
            copied += pending
        _say(progress, f"redis: {copied} keys restored")
    return copied


def _delete_extra_keys(snapshot: redis_py.Redis, live: redis_py.Redis) -> int:
    deleted = 0
    for keys in _scan_batches(live, COPY_BATCH):
        probe = snapshot.pipeline(transaction=False)
        for key in keys:
            probe.exists(key)
        extra = [key for key, found in zip(keys, probe.execute(), strict=True) if not found]
        if extra:
            deleted += int(live.unlink(*extra))
    return deleted


def restore(
    redis_url: str,
    source: Path,
    *,
    progress: Progress | None = None,
    exact: bool = True,
    load_timeout: float = LOAD_TIMEOUT,
) -> dict[str, Any]:
    """Copy the keys of ``redis_url``'s database from the snapshot ``source`` into the live server.

    ``exact``: also delete the keys of that database that the snapshot does not hold.
    """
    options = _options(redis_url)
    db = int(options.get("db", 0))
    where = _where(options)
    live = redis_py.Redis.from_url(redis_url, socket_timeout=READ_TIMEOUT, socket_connect_timeout=READ_TIMEOUT)
    try:
        try:
            live.ping()
        except (redis_py.RedisError, OSError) as exc:
            raise BackupError(f"Redis at {where} is not reachable: {exc}") from None
        with temporary_server(source, load_timeout=load_timeout) as sock:
            snapshot = redis_py.Redis(unix_socket_path=str(sock), db=db, socket_timeout=READ_TIMEOUT)
            try:
                _say(progress, f"redis: snapshot loaded, copying db {db} into {where}")
                copied = _copy_keys(snapshot, live, progress)
                deleted = _delete_extra_keys(snapshot, live) if exact else 0
            except (redis_py.RedisError, OSError) as exc:
                raise BackupError(f"restoring Redis db {db} into {where} failed: {exc}") from None
            finally:
                snapshot.close()
    finally:
        live.close()
    _say(progress, f"redis: {copied} keys restored, {deleted} keys not in the snapshot deleted")
    return {"keys": copied, "deleted": deleted, "db": db}


def verify(source: Path, *, load_timeout: float = LOAD_TIMEOUT) -> dict[str, Any]:
    """Load ``source`` into a throwaway server; report the keys of each database.

    A snapshot that cannot be loaded gives ``ok: False`` with the reason; a missing
    redis-server raises BackupError (the check could not run).
    """
    try:
        rdb_version = read_header(source)
        with temporary_server(source, load_timeout=load_timeout) as sock:
            client = redis_py.Redis(unix_socket_path=str(sock), socket_timeout=READ_TIMEOUT)
            try:
                numbers = sorted(int(str(name)[2:]) for name in client.info("keyspace"))
            finally:
                client.close()
            databases: dict[int, int] = {}
            for number in numbers:
                one = redis_py.Redis(unix_socket_path=str(sock), db=number, socket_timeout=READ_TIMEOUT)
                try:
                    databases[number] = int(one.dbsize())
                finally:
                    one.close()
    except SnapshotLoadError as exc:
        return {"ok": False, "databases": {}, "keys": 0, "problems": [str(exc)]}
    return {
        "ok": True,
        "rdb_version": rdb_version,
        "databases": databases,
        "keys": sum(databases.values()),
        "problems": [],
        "size": os.path.getsize(source),
    }
