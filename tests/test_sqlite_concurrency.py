"""The embedded default: web, worker and Beat write to one SQLite file at the same time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

WRITER = """
import os, sys, django
django.setup()
from django.db import transaction
from apps.technologies.models import Tag
from apps.jobs.models import Job
name = sys.argv[1]
for i in range(60):
    with transaction.atomic():
        Tag.objects.create(name=f"{name}-{i}")
        Job.objects.create(task_id=f"{name}-{i}", name="concurrency")
    Tag.objects.filter(name__startswith=name).count()
print("done")
"""


@pytest.mark.slow
def test_concurrent_writers_never_see_database_is_locked(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.local", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
    subprocess.run(migrate, env=env, cwd=ROOT, check=True, capture_output=True)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, f"w{n}"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for n in range(4)
    ]
    results = [w.communicate(timeout=120) for w in writers]
    for writer, (out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err.decode()[-2000:]
        assert b"database is locked" not in err
        assert out.strip() == b"done"
    count = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from apps.technologies.models import Tag; print(Tag.objects.count())",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert count.stdout.strip() == "240"
