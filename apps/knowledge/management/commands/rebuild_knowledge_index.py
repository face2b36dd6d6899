from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.knowledge import services
from apps.knowledge.embeddings import current_model_name
from apps.knowledge.management.commands.ingest_documents import progress_bar
from apps.knowledge.models import Document


class Command(BaseCommand):
    help = (
        "Rebuild the index of the configured embedding model from the stored documents "
        "(the index is derived data). Needed after changing EMBEDDING_BACKEND or the model."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        total = Document.objects.count()
        done = 0

        def progress(title: str, result: dict[str, Any]) -> None:
            nonlocal done
            done += 1
            sys.stderr.write(f"\r{progress_bar(done, total)} {title[:40]:<40}")
            sys.stderr.flush()

        counts = services.rebuild(progress)
        if total:
            sys.stderr.write("\n")
        summary = f"rebuilt the {current_model_name()} index: {counts['indexed']} indexed, {counts['failed']} failed"
        if counts["failed"]:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))
