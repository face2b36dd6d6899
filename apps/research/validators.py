"""What a research-task attachment may be: a file type of ATTACHMENT_ALLOWED_EXTENSIONS."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError


def validate_attachment_type(value: Any) -> None:
    name = str(getattr(value, "name", "") or "")
    base = name.rsplit("/", 1)[-1]
    extension = base.rsplit(".", 1)[-1].lower() if "." in base.strip(".") else ""
    allowed = [e.lower().lstrip(".") for e in settings.ATTACHMENT_ALLOWED_EXTENSIONS]
    if extension not in allowed:
        shown = f".{extension}" if extension else "no extension"
        raise ValidationError(
            f"File type {shown} is not accepted; allowed: {', '.join('.' + e for e in allowed)} "
            "(ATTACHMENT_ALLOWED_EXTENSIONS).",
            code="file_type",
        )
