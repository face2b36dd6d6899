"""The smoke tests (tests/smoke), run the way the CI workflow runs them against the compose
stack, here against gunicorn under the production settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.live import free_port, wait_for_health
from tests.security.production import ADMIN_URL, HOSTS, ROOT, ProductionSite

pytestmark = pytest.mark.slow

# The exact command of the workflow's integration job: pytest and the standard library only.
SMOKE_COMMAND = ["-m", "pytest", "-c", "/dev/null", "--rootdir", ".", "--noconftest", "-p", "no:cacheprovider"]


@pytest.fixture
def production_server(production_site: ProductionSite) -> Iterator[str]:
    port = free_port()
    log = production_site.root / f"gunicorn-{port}.log"
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "2", "commandcenter.wsgi:application"]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env=production_site.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for_health(process, port, log, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_smoke_tests_pass_against_the_production_settings(production_server):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SMOKE_"))}
    env.update(SMOKE_BASE_URL=production_server, SMOKE_HOST=HOSTS[0], SMOKE_ADMIN_URL=ADMIN_URL)
    command = [sys.executable, *SMOKE_COMMAND, "-p", "no:django", "-v", "tests/smoke"]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "6 passed" in result.stdout
