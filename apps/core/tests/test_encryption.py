from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test import override_settings

from apps.core.fields import decrypt, encrypt
from apps.repositories.tests.factories import RepositoryFactory

pytestmark = pytest.mark.django_db


def raw_token(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM repositories_repository WHERE id = %s", [pk])
        return str(cursor.fetchone()[0])


def test_tokens_are_encrypted_at_rest():
    repo = RepositoryFactory.create(access_token="ghp_secret_token_value")
    stored = raw_token(repo.pk)
    assert "ghp_secret" not in stored
    assert decrypt(stored) == "ghp_secret_token_value"
    repo.refresh_from_db()
    assert repo.access_token == "ghp_secret_token_value"


def test_key_rotation_keeps_old_tokens_readable():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[old]):
        token = encrypt("ghp_rotated")
    with override_settings(FIELD_ENCRYPTION_KEYS=[new, old]):
        assert decrypt(token) == "ghp_rotated"
        assert decrypt(encrypt("x")) == "x"


def test_empty_tokens_stay_empty():
    repo = RepositoryFactory.create(access_token="")
    assert raw_token(repo.pk) == ""
