from __future__ import annotations

import uuid

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture
def github(httpserver: HTTPServer, settings) -> HTTPServer:
    """GITHUB_API_URL pointed at a local server; a token of this test's own, so that cached
    answers and rate-limit state (keyed by the token) never leak between tests."""
    settings.GITHUB_API_URL = httpserver.url_for("/").rstrip("/")
    settings.GITHUB_TOKEN = f"ghp_test{uuid.uuid4().hex}"
    settings.GITHUB_CACHE_SECONDS = 0
    return httpserver
