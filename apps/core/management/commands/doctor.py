from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.jobs.choices import JobState
from apps.jobs.models import Job
from commandcenter.health import FAIL, OK, WARN, CheckResult, registered_checks


def check_migrations() -> CheckResult:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
        more = f" and {len(plan) - 5} more" if len(plan) > 5 else ""
        return CheckResult(FAIL, f"{len(plan)} unapplied: {names}{more} (run: manage.py migrate)")
    return CheckResult(OK, "all applied")


def check_workers(timeout: float) -> CheckResult:
    """A real round trip: queue a no-op job and wait for a worker to finish it."""
    from apps.jobs.tasks import ping

    task_id = str(ping.delay().id)
    deadline = time.monotonic() + timeout
    state = JobState.QUEUED
    while time.monotonic() < deadline:
        job = Job.objects.filter(task_id=task_id).only("state", "worker", "duration").first()
        if job is not None:
            state = JobState(job.state)
            if state == JobState.SUCCEEDED:
                return CheckResult(OK, f"job {task_id[:8]} done by {job.worker or 'a worker'}")
            if state == JobState.FAILED:
                return CheckResult(FAIL, f"job {task_id[:8]} failed: see /api/v1/jobs/{task_id}/")
        time.sleep(0.2)
    return CheckResult(
        FAIL, f"no worker finished a ping job within {timeout:.0f} s (state: {state}); is a worker running?"
    )


class Command(BaseCommand):
    help = "Check every dependency (database, migrations, cache, broker, workers...) and print a table."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--worker-timeout", type=float, default=15.0, help="seconds to wait for a worker")
        parser.add_argument("--skip-workers", action="store_true", help="do not require a running worker")

    def handle(self, *args: Any, **options: Any) -> None:
        rows: list[tuple[str, CheckResult]] = []
        for check in registered_checks():
            try:
                result = check.func()
            except Exception as exc:
                result = CheckResult(FAIL, f"{type(exc).__name__}: {exc}"[:300])
            rows.append((check.name, result))
            if check.name == "database" and result.status == FAIL:
                break
        else:
            rows.append(("migrations", check_migrations()))
            if not options["skip_workers"]:
                rows.append(("workers", check_workers(options["worker_timeout"])))

        width = max(len(name) for name, _ in rows)
        style = {OK: self.style.SUCCESS, WARN: self.style.WARNING, FAIL: self.style.ERROR}
        self.stdout.write(f"{'CHECK'.ljust(width)}  STATUS  DETAIL")
        for name, result in rows:
            self.stdout.write(
                f"{name.ljust(width)}  {style[result.status](result.status.upper().ljust(6))}  {result.detail}"
            )
        failed = [name for name, result in rows if result.status == FAIL]
        warned = [name for name, result in rows if result.status == WARN]
        if failed:
            raise CommandError(f"{len(failed)} check(s) failed: {', '.join(failed)}")
        summary = f"all {len(rows)} checks passed" + (
            f" ({len(warned)} warning(s): {', '.join(warned)})" if warned else ""
        )
        self.stdout.write(self.style.SUCCESS(summary))
