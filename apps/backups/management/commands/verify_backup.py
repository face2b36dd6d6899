from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.backups import services
from apps.backups.engines.common import BackupError
from apps.backups.management.commands._common import progress_printer


class Command(BaseCommand):
    # Operational commands: no URLconf import for the system checks (0.2 s of every run).
    requires_system_checks: list[str] = []
    help = (
        "Restore drill: check every checksum, restore the database dump into a scratch database and "
        "compare row counts with the manifest, check the knowledge archive; then clean up."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("timestamp", nargs="?", help="YYYYMMDD_HHMMSS (default: the latest complete set)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = services.verify(options["timestamp"], progress=progress_printer())
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        for component, result in report.get("components", {}).items():
            state = "ok" if result.get("ok") else "FAILED"
            self.stdout.write(f"{component:<9} {state}  {json.dumps(result, default=str)[:300]}")
        if not report["ok"]:
            raise CommandError(f"backup {report['timestamp']} failed verification: {report.get('error', 'see above')}")
        self.stdout.write(self.style.SUCCESS(f"backup {report['timestamp']} verified"))
