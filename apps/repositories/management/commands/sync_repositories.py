from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.repositories import github, sync, tasks
from apps.repositories.models import Repository


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = (
        "Sync repositories with GitHub (all, or the FULL_NAMEs given), in this process; "
        "--queue hands them to the Celery workers instead. Exits 1 when one failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("full_names", nargs="*", metavar="FULL_NAME", help="owner/name (default: every repository)")
        parser.add_argument("--force", action="store_true", help="ignore cached GitHub answers (ETags still used)")
        parser.add_argument("--queue", action="store_true", help="queue one sync job per repository and return")

    def handle(self, *args: Any, **options: Any) -> None:
        repositories = self._select(options["full_names"])
        if not repositories:
            self.stdout.write("no repositories to sync")
            return
        if options["queue"]:
            for repository in repositories:
                result = tasks.sync_repository.delay(repository.pk, force=options["force"])
                self.stdout.write(f"{repository.full_name:<50} queued  job {result.id}")
            self.stdout.write(f"{len(repositories)} sync job(s) queued")
            return
        failed = 0
        for index, repository in enumerate(repositories):
            try:
                outcome = sync.sync_repository(repository, force=options["force"])
            except github.RateLimited as exc:
                left = len(repositories) - index
                raise CommandError(f"{exc}; {left} repositories not synced, run again after the reset") from None
            except github.TransientGitHubError as exc:
                failed += 1
                self.stdout.write(f"{repository.full_name:<50} FAILED  {exc} (temporary: try again)")
                continue
            if outcome.ok:
                self.stdout.write(f"{outcome.full_name:<50} ok      {'updated' if outcome.changed else 'unchanged'}")
            else:
                failed += 1
                self.stdout.write(f"{outcome.full_name:<50} FAILED  {outcome.error}")
        summary = f"{len(repositories) - failed} synced, {failed} failed"
        if failed:
            raise CommandError(summary)
        self.stdout.write(summary)

    def _select(self, full_names: list[str]) -> list[Repository]:
        if not full_names:
            return list(Repository.objects.order_by("full_name"))
        found = {r.full_name.lower(): r for r in Repository.objects.filter(full_name__in=full_names)}
        for name in full_names:
            if name.lower() not in found:
                match = Repository.objects.filter(full_name__iexact=name).first()
                if match is None:
                    raise CommandError(f"no repository {name!r} is tracked (add it first)")
                found[name.lower()] = match
        return [found[name.lower()] for name in dict.fromkeys(full_names)]
