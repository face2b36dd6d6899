from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.backups import services


class Command(BaseCommand):
    # Operational commands: no URLconf import for the system checks (0.2 s of every run).
    requires_system_checks: list[str] = []
    help = "Remove backup sets older than RETENTION_DAYS (never the newest complete set)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="only say what would be removed")

    def handle(self, *args: Any, **options: Any) -> None:
        removed = services.prune(dry_run=options["dry_run"])
        verb = "would remove" if options["dry_run"] else "removed"
        for stamp in removed:
            self.stdout.write(f"{verb} {stamp}")
        for stamp in services.prune_offsite(dry_run=options["dry_run"]):
            self.stdout.write(f"{verb} {stamp} (off-site)")
        self.stdout.write(f"{verb} {len(removed)} set(s) older than {settings.RETENTION_DAYS} days")
