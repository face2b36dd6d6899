"""The benchmark database: a real PostgreSQL, created if missing, migrated, Django set up."""

from __future__ import annotations

import logging
import os
import warnings
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from benchmarks.errors import BenchmarkError

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/commandcenter_bench"
SETTINGS_MODULE = "benchmarks.settings"

_ready = False


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def server_environment() -> dict[str, str]:
    """The environment for processes that serve the benchmark (gunicorn)."""
    return {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE}


def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` if it does not exist; return whether it was created."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise BenchmarkError(f"The benchmarks need PostgreSQL; DATABASE_URL is {parts.scheme}://...")
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise BenchmarkError("DATABASE_URL names no database.")
    maintenance = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    try:
        with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                return False
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    except psycopg.OperationalError as exc:
        raise BenchmarkError(f"Cannot reach PostgreSQL at {parts.hostname}:{parts.port or 5432}: {exc}") from exc


def setup_django() -> None:
    """Create the database if needed, set Django up with the bench settings and migrate (once)."""
    global _ready
    if _ready:
        return
    url = database_url()
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE

    import django
    from django.core.management import call_command

    django.setup()
    # The orchestrating process only prints tables; the servers it starts keep their logging.
    logging.disable(logging.INFO)
    warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise: no collectstatic
    call_command("migrate", interactive=False, verbosity=0)
    _ready = True
