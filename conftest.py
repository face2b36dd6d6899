"""Shared fixtures: users, API keys, authenticated clients, and real-service guards."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from apps.core.services import issue_api_key
from apps.core.tests.factories import UserFactory

pytest_plugins = ["tests.celery_worker"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# tests/smoke check a deployed app at SMOKE_BASE_URL: the CI workflow's integration stage and
# tests/security/test_smoke_live.py (gunicorn on production settings) run them.
collect_ignore = [] if os.environ.get("SMOKE_BASE_URL") else ["tests/smoke"]


def require_service(variable: str, what: str) -> str:
    """The service URL from ``variable``; skip without it, but fail under CI=true."""
    value = os.environ.get(variable, "")
    if not value:
        message = f"{what} not configured: set {variable} to run this test"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: a missing service is a failure, not a skip)")
        pytest.skip(message)
    return value


@pytest.fixture
def postgres_url() -> str:
    url = require_service("DATABASE_URL", "PostgreSQL")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("DATABASE_URL is not a PostgreSQL URL")
    return url


@pytest.fixture
def redis_url() -> str:
    return require_service("REDIS_URL", "Redis")


@pytest.fixture
def superuser(db: None) -> User:
    return UserFactory.create(is_staff=True, is_superuser=True)


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    """A user holding exactly the given permissions (``"app_label.codename"``)."""

    def make(*perms: str, is_staff: bool = False) -> User:
        user: User = UserFactory.create(is_staff=is_staff)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        return user

    return make


@pytest.fixture
def client_for() -> Callable[..., APIClient]:
    """An APIClient authenticated with a fresh API key of ``user``."""

    def make(user: User, *, read_only: bool = False) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_api_key(user, read_only=read_only).key}")
        return client

    return make


@pytest.fixture
def api(superuser: User, client_for: Callable[..., APIClient]) -> APIClient:
    """An APIClient with a superuser's API key."""
    return client_for(superuser)
