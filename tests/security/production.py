"""The app under ``config.settings.production``, in subprocesses (the production settings
cannot be loaded beside the test settings): a site with collected static files and a
migrated SQLite database, its environment, and ``manage.py`` against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# Dummy values: long and random-looking enough for Django's deploy checks, never used elsewhere.
SECRET_KEY = "p7Jw2-vQ9sZk4Lr8Xy1Tn6Hb3Fd0Gm5Cq_Ae7Ru2Wi9Oo4Ps1Dl8Kj3Nx6Mz0Vb5Yt"
FIELD_ENCRYPTION_KEY = "kO6Y6mQCLXh6iFLRz0lT0rJ8bfbWqGyJmFxhx5e_uCM="
ADMIN_URL = "ops-7f3a/"
HOSTS = ("cc.example.com", "api.cc.example.com")
CORS_ORIGIN = "https://app.example.com"
SUPERUSER_PASSWORD = "a-long-password-for-tests"

# Variables of this process that must not leak into the production one.
DROPPED = {
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "PROMETHEUS_MULTIPROC_DIR",
    "DJANGO_ADMIN_URL",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "CORS_ALLOWED_ORIGINS",
    "NUM_PROXIES",
    "SECURE_SSL_REDIRECT",
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEY",
}


def production_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED and not k.endswith("_FILE")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        ENVIRONMENT="production",
        SECRET_KEY=SECRET_KEY,
        FIELD_ENCRYPTION_KEY=FIELD_ENCRYPTION_KEY,
        ALLOWED_HOSTS=",".join(HOSTS),
        CSRF_TRUSTED_ORIGINS=",".join(f"https://{host}" for host in HOSTS),
        CORS_ALLOWED_ORIGINS=CORS_ORIGIN,
        DJANGO_ADMIN_URL=ADMIN_URL,
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        CELERY_BROKER_URL="memory://",
        STATIC_ROOT=str(tmp / "static"),
        MEDIA_ROOT=str(tmp / "media"),
        CHROMA_PATH=str(tmp / "chroma"),
        BACKUP_DIR=str(tmp / "backups"),
        DJANGO_SUPERUSER_PASSWORD=SUPERUSER_PASSWORD,
        JSON_LOGS="true",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(env, str(ROOT / "manage.py"), *args, check=check)


@dataclass
class ProductionSite:
    root: Path
    env: dict[str, str]

    def requests(self) -> dict[str, Any]:
        """Answers of the requests made by ``tests.security.production_requests``."""
        out = self.root / "answers.json"
        run(self.env, "-m", "tests.security.production_requests", str(out))
        answers: dict[str, Any] = json.loads(out.read_text())
        return answers


def build_site(tmp: Path) -> ProductionSite:
    env = production_env(tmp)
    manage(env, "collectstatic", "--noinput")
    manage(env, "migrate", "--noinput")
    manage(env, "ensure_superuser")
    return ProductionSite(root=tmp, env=env)
