from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Create the superuser USERNAME (default: admin) when no superuser exists. The password "
        "comes from DJANGO_SUPERUSER_PASSWORD, else one is generated and printed once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("A superuser exists already; nothing to do.")
            return
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or ""
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(options["username"], options["email"], password)
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"Created superuser '{options['username']}' with password: {password}\n"
                    "  (shown once; change it in the admin, or set DJANGO_SUPERUSER_PASSWORD before the first run)"
                )
            )
        else:
            self.stdout.write(f"Created superuser '{options['username']}' (password from DJANGO_SUPERUSER_PASSWORD).")
