from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.knowledge.index import StoreInUse, lock_store


class Command(BaseCommand):
    help = (
        "Run the Chroma server (from the chromadb package) on the store at CHROMA_PATH, holding "
        "the store's lock so that no other process opens it directly. Telemetry is off."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)

    def handle(self, *args: Any, **options: Any) -> None:
        binary = shutil.which("chroma", path=os.path.dirname(sys.executable)) or shutil.which("chroma")
        if binary is None:
            raise CommandError("the chroma command is missing: install the requirements (chromadb)")
        try:
            fd = lock_store(settings.CHROMA_PATH)
        except StoreInUse as exc:
            raise CommandError(str(exc)) from None
        os.set_inheritable(fd, True)  # the lock stays held by the server that replaces this process
        settings.CHROMA_PATH.mkdir(parents=True, exist_ok=True)
        os.environ["ANONYMIZED_TELEMETRY"] = "False"
        self.stdout.write(f"Chroma server on http://{options['host']}:{options['port']} for {settings.CHROMA_PATH}")
        self.stdout.flush()
        command = [binary, "run", "--path", str(settings.CHROMA_PATH), "--host", options["host"]]
        os.execv(binary, [*command, "--port", str(options["port"])])  # noqa: S606  (a fixed binary, no shell)
