from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.knowledge import index


@pytest.fixture(autouse=True)
def knowledge_store(settings, tmp_path: Path) -> Iterator[Path]:
    """Every test gets its own on-disk Chroma store and media folder."""
    settings.CHROMA_PATH = tmp_path / "chroma"
    settings.CHROMA_URL = ""
    settings.MEDIA_ROOT = tmp_path / "media"
    index.reset_clients()
    yield settings.CHROMA_PATH
    index.reset_clients()
