from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.backups import services
from apps.backups.management.commands._common import human_size
from apps.backups.models import BackupRun


class Command(BaseCommand):
    # Operational commands: no URLconf import for the system checks (0.2 s of every run).
    requires_system_checks: list[str] = []
    help = "List the backup sets in BACKUP_DIR: timestamp, status, size, verification."

    def handle(self, *args: Any, **options: Any) -> None:
        sets = services.list_sets()
        runs = {r.timestamp: r for r in BackupRun.objects.filter(timestamp__in=[s.timestamp for s in sets])}
        self.stdout.write(f"{'TIMESTAMP':<16} {'STATUS':<10} {'SIZE':>10}  {'COMPONENTS':<22} VERIFIED")
        for info in sets:
            run = runs.get(info.timestamp)
            status = "complete" if info.complete else "incomplete"
            components = ",".join(info.manifest["components"]) if info.manifest else "-"
            verified = "-"
            if run is not None and run.verified_at:
                verified = f"{run.verification} {run.verified_at:%Y-%m-%d %H:%M}"
            self.stdout.write(
                f"{info.timestamp:<16} {status:<10} {human_size(info.size):>10}  {components:<22} {verified}"
            )
        self.stdout.write(f"{len(sets)} set(s) in {services.backup_dir()}")
