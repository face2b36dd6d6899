from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.backups import services
from apps.backups.choices import COMPONENTS, Trigger
from apps.backups.engines.common import BackupError
from apps.backups.management.commands._common import human_size, progress_printer


class Command(BaseCommand):
    # Operational commands: no URLconf import for the system checks (0.2 s of every run).
    requires_system_checks: list[str] = []
    help = "Take a backup set (PostgreSQL or SQLite, the knowledge index and files, Redis) under BACKUP_DIR."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", help=f"comma-separated components among {','.join(COMPONENTS)}")
        parser.add_argument("--trigger", default=Trigger.MANUAL, choices=[t.value for t in Trigger])
        parser.add_argument("--no-offsite", action="store_true", help="do not copy the set to BACKUP_S3_BUCKET")

    def handle(self, *args: Any, **options: Any) -> None:
        only = [c.strip() for c in options["only"].split(",")] if options["only"] else None
        if only and set(only) - set(COMPONENTS):
            raise CommandError(f"--only takes components among {', '.join(COMPONENTS)}")
        try:
            run = services.run_backup(trigger=options["trigger"], components=only, progress=progress_printer())
        except BackupError as exc:
            raise CommandError(f"backup failed: {exc}") from None
        except Exception as exc:
            raise CommandError(f"backup failed: {type(exc).__name__}: {exc}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"backup {run.timestamp} complete: {', '.join(run.components)}, "
                f"{human_size(run.size_bytes)} in {run.duration:.1f} s"
            )
        )
        if not options["no_offsite"]:
            try:
                copied = services.copy_offsite(run.timestamp)
            except BackupError as exc:
                raise CommandError(
                    f"backup {run.timestamp} is complete here, but the off-site copy failed: {exc}"
                ) from None
            if copied:
                self.stdout.write(f"copied off-site: {copied['uploaded']} object(s), {human_size(copied['bytes'])}")
