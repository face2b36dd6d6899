from __future__ import annotations

import time

import pytest

from apps.repositories.health import check_github
from apps.repositories.tests.factories import RepositoryFactory


def rate_limit_body(remaining: int, limit: int = 5000) -> dict:
    core = {"limit": limit, "remaining": remaining, "reset": int(time.time()) + 600, "used": limit - remaining}
    return {"resources": {"core": core}, "rate": core}


pytestmark = pytest.mark.django_db


@pytest.fixture
def tracked(db):
    return RepositoryFactory.create()


@pytest.fixture
def configured(github, settings, tracked):
    settings.GITHUB_WEBHOOK_SECRET = "s3cret-for-webhooks"
    return github


def test_without_repositories_github_is_not_asked(github):
    result = check_github()
    assert result.status == "ok"
    assert "no repository tracked" in result.detail
    assert github.log == []


def test_it_reports_the_rate_limit_left(configured):
    configured.expect_request("/rate_limit").respond_with_json(rate_limit_body(4990))
    result = check_github()
    assert result.status == "ok"
    assert result.detail.startswith("rate limit 4990/5000 left, resets ")
    assert configured.log[0][0].headers["Authorization"].startswith("Bearer ghp_test")


def test_a_nearly_exhausted_limit_or_missing_settings_warn(configured, settings):
    configured.expect_request("/rate_limit").respond_with_json(rate_limit_body(12))
    assert "rate limit nearly exhausted" in check_github().detail
    settings.GITHUB_TOKEN = ""
    settings.GITHUB_WEBHOOK_SECRET = ""
    result = check_github()
    assert result.status == "warn"
    assert "no GITHUB_TOKEN" in result.detail
    assert "GITHUB_WEBHOOK_SECRET not set" in result.detail


def test_a_rejected_token_fails(configured):
    configured.expect_request("/rate_limit").respond_with_json({"message": "Bad credentials"}, status=401)
    result = check_github()
    assert result.status == "fail"
    assert "GITHUB_TOKEN is rejected" in result.detail


def test_an_unreachable_github_fails(settings, tracked):
    settings.GITHUB_API_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    result = check_github()
    assert result.status == "fail"
    assert "cannot reach http://127.0.0.1:9" in result.detail
