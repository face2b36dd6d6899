from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.knowledge import index


@pytest.fixture(autouse=True)
def research_environment(settings, tmp_path: Path) -> Iterator[Path]:
    """Each test: its own on-disk Chroma store and media folder, and no language model
    unless the test configures one (a key in the environment must not leak in)."""
    settings.CHROMA_PATH = tmp_path / "chroma"
    settings.CHROMA_URL = ""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LLM_PROVIDER = ""
    settings.LLM_MODEL = ""
    settings.ANTHROPIC_API_KEY = ""
    settings.ANTHROPIC_BASE_URL = ""
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    index.reset_clients()
    yield settings.CHROMA_PATH
    index.reset_clients()
