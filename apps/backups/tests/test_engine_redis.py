"""The Redis engine against real redis-server processes of the test's own.

The "live" side is a throwaway redis-server started here on a free loopback port, so the
tests may write and wipe it freely; the shared Redis of ``REDIS_URL`` is only read (one
snapshot fetched from it), never written.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis as redis_py

from apps.backups import processes
from apps.backups.engines import redis as engine
from apps.backups.engines.common import BackupError
from conftest import IN_CI
from tests.live import free_port

pytestmark = pytest.mark.redis

StartRedis = Callable[..., str]


@pytest.fixture
def start_redis(tmp_path: Path) -> Iterator[StartRedis]:
    """Start a redis-server of this test on a free loopback port; returns its URL (db 0)."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (Debian package: redis-server)"
        if IN_CI:
            pytest.fail(f"{message}; under CI=true a missing tool is a failure")
        pytest.skip(message)
    started: list[subprocess.Popen[bytes]] = []

    def start(*extra: str, password: str = "") -> str:
        port = free_port()
        folder = tmp_path / f"redis-{port}"
        folder.mkdir()
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", ""]
        command += ["--appendonly", "no", "--repl-diskless-sync-delay", "0", *extra]
        if password:
            command += ["--requirepass", password]
        process = processes.popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(process)
        url = f"redis://:{password}@127.0.0.1:{port}/0" if password else f"redis://127.0.0.1:{port}/0"
        client = redis_py.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis_py.ConnectionError:
                assert process.poll() is None, "redis-server exited"
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)
        client.close()
        return url

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def with_db(url: str, db: int) -> str:
    return f"{url.rsplit('/', 1)[0]}/{db}"


BIG = os.urandom(3 * 1024 * 1024)  # several chunks, so the transfer is really streamed


def fill(client: redis_py.Redis) -> None:
    client.set("string", "value")
    client.set(b"bin\xff\x00key", BIG)
    client.hset("hash", mapping={"a": "1", "b": "2"})
    client.rpush("list", "x", "y", "z")
    client.sadd("set", "m1", "m2")
    client.zadd("zset", {"one": 1.0, "two": 2.5})
    client.set("ttl-string", "soon", ex=300)
    client.hset("ttl-hash", mapping={"k": "v"})
    client.expire("ttl-hash", 200)


def snapshot_of(client: redis_py.Redis) -> dict[bytes, object]:
    values: dict[bytes, object] = {}
    for key in client.scan_iter():
        kind = client.type(key)
        if kind == b"string":
            values[key] = client.get(key)
        elif kind == b"hash":
            values[key] = client.hgetall(key)
        elif kind == b"list":
            values[key] = client.lrange(key, 0, -1)
        elif kind == b"set":
            values[key] = client.smembers(key)
        elif kind == b"zset":
            values[key] = client.zrange(key, 0, -1, withscores=True)
    return values


def test_round_trip_restores_every_type_and_ttl_of_its_database_only(start_redis: StartRedis, tmp_path: Path) -> None:
    url = start_redis()
    live = redis_py.Redis.from_url(with_db(url, 3))
    other = redis_py.Redis.from_url(with_db(url, 5))
    fill(live)
    other.set("other-db", "before")
    before = snapshot_of(live)
    messages: list[str] = []

    result = engine.dump(with_db(url, 3), tmp_path / "set" / "redis.rdb", progress=messages.append)

    written = result.files[0]
    assert written.path == tmp_path / "set" / "redis.rdb"
    assert written.size == written.path.stat().st_size > len(BIG)
    assert written.path.read_bytes()[:5] == b"REDIS"
    assert result.details["engine"] == "redis"
    assert result.details["db"] == 3
    assert result.details["keys"] == len(before) == 8
    assert result.details["transfer"] == "diskless"
    assert result.details["redis_version"].count(".") == 2
    assert result.details["rdb_version"] >= 9
    assert messages
    assert [p.name for p in written.path.parent.iterdir()] == ["redis.rdb"]

    # The live data moves on: a key deleted, one changed, a TTL changed, a key added, another db changed.
    live.delete("list")
    live.hset("hash", "a", "changed")
    live.persist("ttl-string")
    live.set("ttl-hash", "now a string")
    live.set("added-later", "x")
    other.set("other-db", "after")

    restored = engine.restore(with_db(url, 3), written.path)

    assert restored["keys"] == 8
    assert restored["deleted"] == 1
    assert snapshot_of(live) == before
    assert 0 < live.pttl("ttl-string") <= 300_000
    assert 0 < live.pttl("ttl-hash") <= 200_000
    assert live.pttl("string") == -1
    assert live.exists("added-later") == 0
    assert other.get("other-db") == b"after"  # other databases are never touched
    live.close()
    other.close()


def test_disk_transfer_with_a_password_and_a_restore_that_keeps_extra_keys(
    start_redis: StartRedis, tmp_path: Path
) -> None:
    url = start_redis("--repl-diskless-sync", "no", password="s3cret")
    live = redis_py.Redis.from_url(url)
    fill(live)
    before = snapshot_of(live)

    result = engine.dump(url, tmp_path / "redis.rdb")
    assert result.details["transfer"] == "disk"
    assert result.details["keys"] == 8

    live.set("string", "changed")
    live.set("extra", "kept")
    assert engine.restore(url, tmp_path / "redis.rdb", exact=False) == {"keys": 8, "deleted": 0, "db": 0}
    assert live.get("string") == b"value"
    assert live.get("extra") == b"kept"
    assert {k: v for k, v in snapshot_of(live).items() if k != b"extra"} == before
    live.close()

    wrong = url.replace("s3cret", "wrong")
    with pytest.raises(BackupError):
        engine.dump(wrong, tmp_path / "other.rdb")
    assert not (tmp_path / "other.rdb").exists()


def test_verify_reports_the_keys_of_each_database(start_redis: StartRedis, tmp_path: Path) -> None:
    url = start_redis()
    redis_py.Redis.from_url(with_db(url, 0)).set("a", "1")
    two = redis_py.Redis.from_url(with_db(url, 2))
    two.mset({"b": "1", "c": "2"})
    engine.dump(url, tmp_path / "redis.rdb")

    report = engine.verify(tmp_path / "redis.rdb")
    assert report["ok"] is True
    assert report["databases"] == {0: 1, 2: 2}
    assert report["keys"] == 3

    data = (tmp_path / "redis.rdb").read_bytes()
    (tmp_path / "truncated.rdb").write_bytes(data[: len(data) // 2])
    truncated = engine.verify(tmp_path / "truncated.rdb")
    assert truncated["ok"] is False
    assert truncated["problems"]
    (tmp_path / "not.rdb").write_bytes(b"hello")
    assert engine.verify(tmp_path / "not.rdb")["ok"] is False


def test_a_corrupt_snapshot_is_refused_and_live_data_is_untouched(start_redis: StartRedis, tmp_path: Path) -> None:
    url = start_redis()
    live = redis_py.Redis.from_url(url)
    fill(live)
    engine.dump(url, tmp_path / "good.rdb")
    live.set("string", "current")
    before = snapshot_of(live)

    good = (tmp_path / "good.rdb").read_bytes()
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF  # the checksum no longer matches
    (tmp_path / "corrupt.rdb").write_bytes(bytes(corrupt))
    (tmp_path / "truncated.rdb").write_bytes(good[:-100])
    (tmp_path / "garbage.rdb").write_bytes(b"not a snapshot at all")

    for name in ("corrupt.rdb", "truncated.rdb", "garbage.rdb"):
        with pytest.raises(BackupError):
            engine.restore(url, tmp_path / name)
        assert snapshot_of(live) == before, name
    with pytest.raises(BackupError):
        engine.restore(url, tmp_path / "missing.rdb")
    assert snapshot_of(live) == before
    live.close()


def test_unreachable_redis_fails_and_leaves_no_file(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(BackupError, match="not reachable"):
        engine.dump(url, tmp_path / "redis.rdb", timeout=2)
    assert list(tmp_path.iterdir()) == []


def test_the_snapshot_of_the_configured_redis_is_read_without_writing_to_it(redis_url: str, tmp_path: Path) -> None:
    """The replication protocol against the shared server of the environment (only read)."""
    result = engine.dump(redis_url, tmp_path / "shared.rdb")
    assert result.details["db"] == engine._options(redis_url).get("db", 0)
    report = engine.verify(tmp_path / "shared.rdb")
    assert report["ok"] is True, report["problems"]


class Trickle(io.RawIOBase):
    """A raw stream that hands out at most ``step`` bytes per read, like a slow socket."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = data
        self._step = step
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), self._step, len(self._data) - self._position)
        buffer[:size] = self._data[self._position : self._position + size]
        self._position += size
        return size


RDB = b"REDIS0011" + os.urandom(5000) + b"\xff" + b"\x00" * 8


@pytest.mark.parametrize("step", [1, 7, 39, 41, 4096])
def test_the_diskless_form_stops_exactly_at_the_end_mark(step: int) -> None:
    mark = b"0123456789abcdef0123456789abcdef01234567"
    wire = b"\n\n\n$EOF:" + mark + b"\r\n" + RDB + mark + b"*1\r\n$4\r\nPING\r\n"
    sink = io.BytesIO()
    check = engine._RdbCheck()
    form = engine._receive(io.BufferedReader(Trickle(wire, step)), sink, check, time.monotonic() + 30, None)
    assert form == "diskless"
    assert sink.getvalue() == RDB
    assert check.rdb_version() == 11


@pytest.mark.parametrize("step", [1, 13, 4096])
def test_the_length_form_reads_exactly_the_announced_bytes(step: int) -> None:
    wire = b"\n$%d\r\n" % len(RDB) + RDB + b"*1\r\n$4\r\nPING\r\n"
    sink = io.BytesIO()
    check = engine._RdbCheck()
    assert engine._receive(io.BufferedReader(Trickle(wire, step)), sink, check, time.monotonic() + 30, None) == "disk"
    assert sink.getvalue() == RDB


def test_a_refused_sync_or_a_short_transfer_is_an_error() -> None:
    check = engine._RdbCheck()
    with pytest.raises(BackupError, match="refused SYNC"):
        engine._receive(
            io.BufferedReader(Trickle(b"-NOPERM no\r\n", 64)), io.BytesIO(), check, time.monotonic() + 5, None
        )
    with pytest.raises(BackupError, match="still to come"):
        engine._receive(
            io.BufferedReader(Trickle(b"$100\r\nREDIS0011", 64)), io.BytesIO(), check, time.monotonic() + 5, None
        )
    truncated = engine._RdbCheck()
    truncated.feed(RDB[:-20])
    with pytest.raises(BackupError, match="truncated"):
        truncated.rdb_version()
