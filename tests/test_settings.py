"""Settings: production refuses to start without its secrets; embedded defaults work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_VARS = ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "FIELD_ENCRYPTION_KEY")


def load_settings(module: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_VARS and k not in {"REDIS_URL"}}
    clean.update(env, DJANGO_SETTINGS_MODULE=module)
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'])"
    )
    return subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, cwd=ROOT)


def test_production_refuses_to_start_without_its_secrets():
    result = load_settings("config.settings.production")
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, FIELD_ENCRYPTION_KEY" in last_line


def test_production_names_only_what_is_missing():
    result = load_settings("config.settings.production", SECRET_KEY="x" * 50, ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.endswith("not set: DATABASE_URL, FIELD_ENCRYPTION_KEY")


def test_production_starts_with_its_secrets():
    result = load_settings(
        "config.settings.production",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="example.com",
        DATABASE_URL="postgres://u:p@db:5432/cc",
        FIELD_ENCRYPTION_KEY="kO6Y6mQCLXh6iFLRz0lT0rJ8bfbWqGyJmFxhx5e_uCM=",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django_prometheus.db.backends.postgresql"


def test_local_defaults_to_embedded_sqlite():
    result = load_settings("config.settings.local")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django_prometheus.db.backends.sqlite3"


def test_sqlite_uses_wal_and_immediate_transactions(tmp_path):
    code = (
        "import django; django.setup(); from django.db import connection; "
        "cursor = connection.cursor(); cursor.execute('PRAGMA journal_mode'); print(cursor.fetchone()[0]); "
        "print(connection.settings_dict['OPTIONS']['transaction_mode'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.local", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "IMMEDIATE"]
