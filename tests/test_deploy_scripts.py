"""The thin wrappers in deploy/scripts: they run the manage.py commands and install cron."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "deploy" / "scripts"
pytestmark = pytest.mark.slow


@pytest.fixture
def app_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        BACKUP_DIR=str(tmp_path / "backups"),
        MEDIA_ROOT=str(tmp_path / "media"),
        CHROMA_PATH=str(tmp_path / "chroma"),
        COMMANDCENTER_COMPOSE_FILE=str(tmp_path / "no-compose.yml"),
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    return env


def test_backup_and_restore_wrappers_run_the_commands(app_env: dict[str, str], tmp_path: Path):
    backup = subprocess.run([str(SCRIPTS / "backup.sh")], env=app_env, capture_output=True, text=True)
    assert backup.returncode == 0, backup.stderr
    assert "complete: postgres, rag" in backup.stdout
    manifests = list((tmp_path / "backups" / "manifests").glob("*.json"))
    assert len(manifests) == 1
    restore = subprocess.run(
        [str(SCRIPTS / "restore.sh"), manifests[0].stem, "--yes", "--no-safety-backup"],
        env=app_env,
        capture_output=True,
        text=True,
    )
    assert restore.returncode == 0, restore.stderr
    assert f"restore of {manifests[0].stem} complete" in restore.stdout
    refused = subprocess.run(
        [str(SCRIPTS / "restore.sh"), "../../etc/passwd", "--yes"], env=app_env, capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "invalid backup timestamp" in refused.stderr


def test_cron_setup_installs_and_removes(tmp_path: Path):
    env = {**os.environ, "CRON_DIR": str(tmp_path / "cron.d"), "BACKUP_SCHEDULE": "30 1 * * *"}
    installed = subprocess.run([str(SCRIPTS / "setup-backup-cron.sh")], env=env, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    line = (tmp_path / "cron.d" / "commandcenter-backup").read_text().splitlines()[-1]
    assert line.startswith("30 1 * * * root ")
    assert "backup.sh >> /var/log/commandcenter-backup.log 2>&1" in line
    bad = subprocess.run(
        [str(SCRIPTS / "setup-backup-cron.sh")], env={**env, "BACKUP_SCHEDULE": "daily"}, capture_output=True, text=True
    )
    assert bad.returncode == 2
    removed = subprocess.run(
        [str(SCRIPTS / "setup-backup-cron.sh"), "--remove"], env=env, capture_output=True, text=True
    )
    assert removed.returncode == 0
    assert not (tmp_path / "cron.d" / "commandcenter-backup").exists()
