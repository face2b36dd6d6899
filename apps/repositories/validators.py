"""GitHub's naming rules for owners and repositories."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# Owners (users and organisations): letters, digits and hyphens, not starting with a hyphen.
OWNER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}$")
# Repository names: letters, digits, '.', '_' and '-'; '.' and '..' are reserved.
NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def validate_owner(value: str) -> None:
    if not OWNER_RE.match(value):
        raise ValidationError(
            "Enter a valid GitHub owner: 1-39 letters, digits or hyphens, not starting with a hyphen.",
            code="invalid_owner",
        )


def validate_repository_name(value: str) -> None:
    if not NAME_RE.match(value) or value in {".", ".."}:
        raise ValidationError(
            "Enter a valid repository name: 1-100 letters, digits, '.', '_' or '-'.",
            code="invalid_name",
        )


def split_full_name(full_name: str) -> tuple[str, str]:
    """``"owner/name"`` → ``("owner", "name")``, validated; ``ValidationError`` otherwise."""
    owner, sep, name = full_name.strip().partition("/")
    if not sep or "/" in name:
        raise ValidationError("Enter the repository as 'owner/name'.", code="invalid_full_name")
    validate_owner(owner)
    validate_repository_name(name)
    return owner, name
