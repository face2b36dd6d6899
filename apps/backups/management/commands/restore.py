from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.backups import services
from apps.backups.choices import COMPONENTS
from apps.backups.engines.common import BackupError
from apps.backups.management.commands._common import progress_printer


class Command(BaseCommand):
    # Operational commands: no URLconf import for the system checks (0.2 s of every run).
    requires_system_checks: list[str] = []
    help = (
        "Restore a backup set (default: the latest complete one). Every checksum is verified first; "
        "the current state is backed up first unless --no-safety-backup."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("timestamp", nargs="?", help="YYYYMMDD_HHMMSS (default: the latest complete set)")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        parser.add_argument("--only", help=f"comma-separated components among {','.join(COMPONENTS)}")
        parser.add_argument("--no-safety-backup", action="store_true", help="skip the backup of the current state")

    def handle(self, *args: Any, **options: Any) -> None:
        only = [c.strip() for c in options["only"].split(",")] if options["only"] else None
        try:
            stamp = (
                services.check_timestamp(options["timestamp"]) if options["timestamp"] else services.latest_complete()
            )
            if not services.manifest_path(stamp).exists():
                with services.exclusive("download an off-site backup"):
                    if services.fetch_offsite(stamp):
                        self.stderr.write(f"downloaded {stamp} from the off-site copy")
            manifest = services.read_manifest(stamp)
        except BackupError as exc:
            raise CommandError(f"restore refused: {exc}") from None
        chosen = only or list(manifest["components"])
        if not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError("restore replaces live data: confirm with --yes")
            answer = input(f"Restore {', '.join(chosen)} from {stamp}, replacing the current data? [y/N] ")
            if answer.strip().lower() not in {"y", "yes"}:
                raise CommandError("restore cancelled")
        try:
            report = services.restore(
                stamp, only=only, safety_backup=not options["no_safety_backup"], progress=progress_printer()
            )
        except BackupError as exc:
            raise CommandError(f"restore failed: {exc}") from None
        if report.get("safety_backup"):
            self.stdout.write(f"safety backup of the state before: {report['safety_backup']}")
        for component, result in report["restored"].items():
            self.stdout.write(f"restored {component}")
            if component == "postgres" and isinstance(result, dict):
                expected = manifest["components"]["postgres"].get("row_counts", {})
                for table in sorted(set(expected) | set(result)):
                    mark = "" if expected.get(table) == result.get(table) else "  <- differs"
                    self.stdout.write(
                        f"  {table:<45} {result.get(table, '-'):>8} (manifest {expected.get(table, '-')}){mark}"
                    )
        self.stdout.write(self.style.SUCCESS(f"restore of {stamp} complete"))
