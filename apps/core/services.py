"""API keys: creation (the key is returned once) and verification (hash lookup)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import structlog
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from apps.core.models import APIKey

log = structlog.get_logger(__name__)

KEY_PREFIX = "cc_"
# last_used_at is written at most this often per key, so authentication does not turn
# every API read into a database write.
LAST_USED_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True)
class IssuedKey:
    api_key: APIKey
    key: str


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough (no brute force is feasible)
    # and keeps per-request authentication cheap.
    return hashlib.sha256(key.encode()).hexdigest()


def issue_api_key(
    user: User,
    *,
    name: str = "",
    read_only: bool = False,
    expires_in_days: int | None = None,
) -> IssuedKey:
    prefix = secrets.token_hex(4)
    while APIKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    api_key = APIKey.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        key_hash=hash_key(key),
        read_only=read_only,
        expires_at=expires_at,
    )
    log.info("api_key_issued", key_prefix=prefix, user_id=user.pk, read_only=read_only)
    return IssuedKey(api_key=api_key, key=key)


def parse_prefix(key: str) -> str | None:
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = key[len(KEY_PREFIX) :].partition("_")
    if not sep or not prefix or not secret or len(prefix) > 16:
        return None
    return prefix


def authenticate_key(key: str) -> APIKey | None:
    """Return the active key matching ``key`` (with its user loaded), else ``None``."""
    prefix = parse_prefix(key)
    if prefix is None:
        return None
    api_key = APIKey.objects.active().select_related("user").filter(prefix=prefix).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, hash_key(key)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        APIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def revoke_api_keys(keys: QuerySet[APIKey]) -> int:
    revoked = keys.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    log.info("api_keys_revoked", count=revoked)
    return revoked
