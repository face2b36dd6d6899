"""Throwaway servers for the fault tests, so that they can be stopped, killed and restarted
without touching the shared ones: a PostgreSQL cluster (``initdb`` in a temporary folder, its
own port), a Redis (its own port and folder), the app under gunicorn, Celery workers in a
process group of their own (so that a whole worker, children included, can be killed), and a
Chroma server. Everything listens on 127.0.0.1 only, every wait has a deadline, and every
server is stopped on the way out, whatever happened."""

from __future__ import annotations

import http.client
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from conftest import IN_CI
from tests.celery_worker import wait_for
from tests.live import ROOT, LiveApp, free_port


def require(available: bool, message: str) -> None:
    """Skip when a tool this test needs is missing; under CI=true that is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing tool is a failure, not a skip)")
    pytest.skip(message)


# --- HTTP ---------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        # Header names folded to lower case: Django and gunicorn differ in their spelling.
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, data, time.monotonic() - started
        )
    finally:
        conn.close()


def api(app: LiveApp, method: str, path: str, payload: Any = None) -> Answer:
    body = json.dumps(payload).encode() if payload is not None else None
    headers = {"Authorization": f"Bearer {app.key}", "Content-Type": "application/json", "Accept": "application/json"}
    return request(app.port, method, path, body, headers)


def metric_total(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels`` (0 when none)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += float(sample.value)
    return total


# --- processes ----------------------------------------------------------------------------------


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def stop_group(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM to the process group, SIGKILL if it is still there after ``timeout``."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)
    with suppress(ProcessLookupError):  # children that outlived their parent
        os.killpg(process.pid, signal.SIGKILL)


# --- PostgreSQL ---------------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """The newest server installation in /usr/lib/postgresql, else the one on PATH."""

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.parent.name))

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=version)
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


@dataclass
class Postgres:
    bindir: Path
    root: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        # PostgreSQL refuses to run as root: as root, its tools run as the postgres user.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=timeout, cwd=self.root, check=False
        )

    def _pg_ctl(self, *args: str, timeout: float = 60) -> None:
        result = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), *args, timeout=timeout)
        assert result.returncode == 0, f"pg_ctl {' '.join(args)} failed:\n{result.stdout}{result.stderr}{self.log()}"

    def log(self) -> str:
        path = self.root / "postgres.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def init(self) -> None:
        result = self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        assert result.returncode == 0, f"initdb failed:\n{result.stdout}{result.stderr}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._pg_ctl("-l", str(self.root / "postgres.log"), "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: a clean shutdown (``docker stop``); ``immediate``: a crash, no checkpoint."""
        self._pg_ctl("-m", mode, "-w", "-t", "30", "stop")

    @property
    def running(self) -> bool:
        return self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "status", timeout=30).returncode == 0

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def throwaway_postgres() -> Iterator[Postgres]:
    bindir = postgres_bindir()
    require(bindir is not None, "PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="cc-chaos-pg-"))
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            require(False, "running as root, but there is no postgres user to run PostgreSQL as")
            raise
        os.chown(root, account.pw_uid, account.pw_gid)
    server = Postgres(bindir, root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        with suppress(Exception):
            if server.running:
                server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


# --- Redis --------------------------------------------------------------------------------------


@dataclass
class Redis:
    binary: str
    directory: Path
    appendonly: bool
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(db), socket_timeout=5, socket_connect_timeout=5)

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        # As in production (deploy/docker-compose.prod.yml): the append-only file, fsynced every second.
        command += ["--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec", "--save", ""]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

        def answers() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, (self.directory / "redis.log").read_text()
            try:
                return bool(self.client().ping())
            except redis.ConnectionError:
                return False

        wait_for(answers, 30, "redis-server to answer")

    def stop(self) -> None:
        """SIGTERM, as ``docker stop`` sends: Redis flushes the append-only file and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None


@contextmanager
def throwaway_redis(directory: Path, *, appendonly: bool) -> Iterator[Redis]:
    binary = shutil.which("redis-server")
    require(binary is not None, "redis-server is not installed")
    assert binary is not None
    directory.mkdir(parents=True, exist_ok=True)
    server = Redis(binary, directory, appendonly)
    try:
        server.start()
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=30)


# --- the app under gunicorn ---------------------------------------------------------------------


@dataclass
class Site:
    app: LiveApp
    master: subprocess.Popen[bytes]

    @property
    def workers(self) -> set[int]:
        return children_of(self.master.pid)


@contextmanager
def gunicorn(env: dict[str, str], log: Path, key: str, *, workers: int = 2) -> Iterator[Site]:
    """The app under gunicorn (the production configuration file) on 127.0.0.1."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "commandcenter.wsgi:application"]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:

        def answers() -> bool:
            assert process.poll() is None, f"gunicorn exited:\n{log.read_text()[-3000:]}"
            try:
                return request(port, "GET", "/health").status == 200
            except OSError:
                return False

        wait_for(answers, 60, "gunicorn to answer /health", interval=0.2)
        wait_for(lambda: len(children_of(process.pid)) == workers, 30, "every gunicorn worker")
        yield Site(LiveApp(port=port, log=log, key=key), process)
    finally:
        stop_group(process)


# --- Celery workers -----------------------------------------------------------------------------


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL to the main process and its pool children at once: an OOM kill of the
        container, a power cut."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM: a warm shutdown, as ``docker stop`` does."""
        stop_group(self.process)

    def pool(self) -> set[int]:
        return children_of(self.process.pid)


@contextmanager
def celery_workers(tmp: Path, queue: str, base_env: dict[str, str]) -> Iterator[Callable[..., Worker]]:
    """``start(**env)`` starts a prefork worker (concurrency 1) on ``queue`` in a process group
    of its own; all are stopped on the way out."""
    started: list[Worker] = []

    def start(**extra: str) -> Worker:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "C_FORCE_ROOT": "1"}
        env.update(JSON_LOGS="true", PYTHONUNBUFFERED="1", **base_env, **extra)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        log = tmp / f"worker-{len(started)}.log"
        command = [sys.executable, "-m", "celery", "-A", "commandcenter", "worker", "-Q", queue]
        command += ["--concurrency=1", "--pool=prefork", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
        command += [f"--hostname=chaos{len(started)}@%h"]
        with log.open("w") as out:
            process = subprocess.Popen(
                command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        worker = Worker(process, log)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            stop_group(worker.process)


# --- Chroma -------------------------------------------------------------------------------------


@contextmanager
def chroma_server(store: Path) -> Iterator[str]:
    """``manage.py run_chroma`` on a port of its own: the index shared by worker and test."""
    port = free_port()
    env = {**os.environ, "CHROMA_PATH": str(store), "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "run_chroma", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            assert process.poll() is None, "manage.py run_chroma exited"
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2):
                    return True
            except OSError:
                return False

        wait_for(answers, 60, "the Chroma server", interval=0.3)
        yield url
    finally:
        stop_group(process)
