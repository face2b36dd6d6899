"""gunicorn settings for the backend (``gunicorn -c deploy/gunicorn.conf.py commandcenter.wsgi``).

Workers, threads and timeout come from GUNICORN_WORKERS, GUNICORN_THREADS, GUNICORN_TIMEOUT.
With PROMETHEUS_MULTIPROC_DIR set, the master empties that directory when it starts (it is the
supervisor of the processes that write there) and forgets each worker that exits, so one
scrape of /metrics adds up every live worker and nothing from dead ones.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycling workers (a guard against memory leaks) is off by default: each recycled worker
# leaves its counter and histogram files in PROMETHEUS_MULTIPROC_DIR until the master
# restarts, and every scrape reads them. Set GUNICORN_MAX_REQUESTS to turn it on.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# Requests are logged by the application (RequestLogMiddleware's request_finished, as JSON);
# gunicorn's own messages go to stderr.
accesslog = None
errorlog = "-"
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "*")


def on_starting(server: Any) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        if path.exists():
            for child in path.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        path.mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
