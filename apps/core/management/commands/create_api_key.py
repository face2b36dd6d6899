from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.services import issue_api_key


@contextmanager
def logs_to_stderr() -> Iterator[None]:
    """Point stdout log handlers at stderr for the duration, so stdout carries the key alone."""
    moved: list[tuple[logging.StreamHandler[Any], Any]] = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.__stdout__):
            moved.append((handler, handler.setStream(sys.stderr)))
    try:
        yield
    finally:
        for handler, original in moved:
            handler.setStream(original)


class Command(BaseCommand):
    help = "Create an API key for USERNAME. The key alone goes to stdout (one line); the rest to stderr."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--read-only", action="store_true", help="the key can only read (403 on writes)")
        parser.add_argument("--expires", type=int, metavar="DAYS", help="the key expires after DAYS days")
        parser.add_argument("--name", default="", help="a label to recognise the key by")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["expires"]
        if days is not None and days < 1:
            raise CommandError("--expires takes a number of days of at least 1")
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: options["username"]})
        except User.DoesNotExist:
            raise CommandError(f"no user named {options['username']!r}") from None
        if not user.is_active:
            raise CommandError(f"user {options['username']!r} is inactive")
        with logs_to_stderr():
            issued = issue_api_key(user, name=options["name"], read_only=options["read_only"], expires_in_days=days)
        key = issued.api_key
        details = ["read-only" if key.read_only else "read-write"]
        details.append(f"expires {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else "never expires")
        self.stderr.write(
            f"Created API key cc_{key.prefix}… for {options['username']} ({', '.join(details)}). "
            "It is shown once; store it now.\n"
        )
        self.stdout.write(issued.key)
