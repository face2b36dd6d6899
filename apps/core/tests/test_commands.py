from __future__ import annotations

import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.core.models import APIKey
from apps.core.services import authenticate_key
from apps.repositories.models import Repository
from apps.research.models import ResearchTask
from apps.technologies.models import Technology

ROOT = Path(__file__).resolve().parents[3]
KEY_RE = re.compile(r"^cc_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$")


@pytest.mark.django_db
def test_create_api_key_prints_the_key_alone(superuser):
    out, err = StringIO(), StringIO()
    call_command("create_api_key", superuser.username, "--read-only", "--expires", "7", stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert KEY_RE.match(lines[0])
    api_key = authenticate_key(lines[0])
    assert api_key is not None
    assert api_key.read_only
    assert api_key.expires_at is not None
    assert 6 <= (api_key.expires_at - timezone.now()).days <= 7
    assert "read-only" in err.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [(["ghost"], "no user named 'ghost'"), (["admin", "--expires", "0"], "at least 1")],
)
def test_create_api_key_refuses_bad_input(args, message):
    User.objects.create_user("admin")
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", *args, stdout=StringIO(), stderr=StringIO())
    assert not APIKey.objects.exists()


@pytest.mark.slow
def test_create_api_key_stdout_is_one_line_in_a_real_process(tmp_path):
    """The real command, in its own process with the real logging setup: stdout = the key."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_SUPERUSER_PASSWORD": "a-long-password-for-tests",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, capture_output=True, cwd=ROOT)
    created = subprocess.run([*manage, "ensure_superuser"], env=env, check=True, capture_output=True, text=True)
    assert "Created superuser 'admin'" in created.stdout
    result = subprocess.run(
        [*manage, "create_api_key", "admin"], env=env, check=True, capture_output=True, text=True, cwd=ROOT
    )
    assert KEY_RE.match(result.stdout.rstrip("\n")), result.stdout
    assert result.stdout.count("\n") == 1
    assert "api_key_issued" in result.stderr


@pytest.mark.django_db
def test_ensure_superuser_generates_a_password_once(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    out = StringIO()
    call_command("ensure_superuser", stdout=out)
    password = re.search(r"password: (\S+)", out.getvalue())
    assert password
    assert User.objects.get(username="admin").check_password(password.group(1))
    again = StringIO()
    call_command("ensure_superuser", stdout=again)
    assert "nothing to do" in again.getvalue()
    assert User.objects.filter(is_superuser=True).count() == 1


@pytest.mark.django_db
def test_ensure_superuser_takes_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "from-the-environment-123")
    call_command("ensure_superuser", stdout=StringIO())
    assert User.objects.get(username="admin").check_password("from-the-environment-123")


@pytest.mark.django_db
def test_load_demo_is_idempotent(superuser):
    call_command("load_demo", stdout=StringIO())
    counts = (Repository.objects.count(), Technology.objects.count(), ResearchTask.objects.count())
    call_command("load_demo", stdout=StringIO())
    assert (Repository.objects.count(), Technology.objects.count(), ResearchTask.objects.count()) == counts
    assert counts[1] >= 30
    assert ResearchTask.objects.overdue().exists()
    assert Technology.objects.filter(tags__name="python").exists()
