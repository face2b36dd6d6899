"""What every backup engine shares: the error it raises and the result of one component."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.backups.files import WrittenFile


class BackupError(Exception):
    """A backup, restore or verification step failed; the message says which and why."""


@dataclass
class ComponentResult:
    files: list[WrittenFile]
    details: dict[str, Any] = field(default_factory=dict)
