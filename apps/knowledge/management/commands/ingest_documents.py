from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.knowledge import services
from apps.knowledge.extract import UnsupportedDocumentType
from apps.knowledge.models import DEFAULT_COLLECTION


def progress_bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


class Command(BaseCommand):
    help = (
        "Ingest files and folders (recursively) into the knowledge base, in this process: "
        "parse, chunk, embed, index. Same content in the same collection is not added twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--collection", default=DEFAULT_COLLECTION)
        parser.add_argument("--category", default="")
        parser.add_argument("--technology", type=int, help="technology id the documents are about")

    def handle(self, *args: Any, **options: Any) -> None:
        files: list[Path] = []
        for raw in options["paths"]:
            path = Path(raw)
            if path.is_dir():
                files.extend(sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")))
            elif path.is_file():
                files.append(path)
            else:
                raise CommandError(f"no such file or folder: {raw}")
        if not files:
            raise CommandError("no files to ingest")
        counts = {"indexed": 0, "duplicate": 0, "skipped": 0, "failed": 0}
        to_index: dict[int, Path] = {}
        for path in files:  # store the files (fast), then embed and index them in batches
            status, document_id = self._store(path, options)
            if document_id is None:
                counts[status] += 1
            else:
                to_index[document_id] = path
        done = sum(counts.values())

        def progress(result: dict[str, Any]) -> None:
            nonlocal done
            done += 1
            path = to_index[result["document_id"]]
            if result["status"] == "indexed":
                counts["indexed"] += 1
            else:
                counts["failed"] += 1
                self.stderr.write(f"\nfailed {path}: {result.get('error')}")
            sys.stderr.write(f"\r{progress_bar(done, len(files))} {path.name[:40]:<40}")
            sys.stderr.flush()

        services.ingest_many(list(to_index), progress=progress)
        sys.stderr.write("\n")
        summary = ", ".join(f"{n} {name}" for name, n in counts.items())
        if counts["failed"]:
            raise CommandError(f"{len(files)} file(s): {summary}")
        self.stdout.write(self.style.SUCCESS(f"{len(files)} file(s): {summary}"))

    def _store(self, path: Path, options: dict[str, Any]) -> tuple[str, int | None]:
        """Store the file as a document: (status, id of a document to index or None)."""
        try:
            with path.open("rb") as handle:
                created = services.create_from_file(
                    File(handle, name=path.name),
                    collection=options["collection"],
                    category=options["category"],
                    technology_id=options["technology"],
                )
        except UnsupportedDocumentType as exc:
            self.stderr.write(f"\nskipped {path}: {exc}")
            return "skipped", None
        if not created.created and created.document.status == "indexed":
            return "duplicate", None
        return "indexed", created.document.pk
