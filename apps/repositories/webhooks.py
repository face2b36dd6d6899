"""GitHub webhooks: signature check and what an event does. The view is a thin edge."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.repositories import services, tasks
from apps.repositories.models import Repository, WebhookDelivery

log = structlog.get_logger(__name__)

SYNC_EVENTS = frozenset({"push", "repository", "release", "create", "delete", "public"})
DELIVERY_RETENTION = timedelta(days=7)


def signature_is_valid(body: bytes, header: str) -> bool:
    """``X-Hub-Signature-256: sha256=<hex HMAC of the raw body>`` with GITHUB_WEBHOOK_SECRET.
    False when no secret is configured: an unconfigured endpoint accepts nothing."""
    secret = settings.GITHUB_WEBHOOK_SECRET
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


@dataclass(frozen=True)
class Handled:
    status: str  # "pong", "queued", "duplicate", "ignored"
    detail: str = ""
    job_id: str = ""
    repository: str = ""


def handle(event: str, delivery_id: str, payload: dict[str, Any]) -> Handled:
    if event == "ping":
        return Handled("pong", f"hook {payload.get('hook_id', '')} is set up".strip())
    data = payload.get("repository")
    full_name = str(data.get("full_name") or "") if isinstance(data, dict) else ""
    github_id = data.get("id") if isinstance(data, dict) else None
    with transaction.atomic():
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    delivery_id=delivery_id[:100], event=event[:50], repository_full_name=full_name[:140]
                )
        except IntegrityError:
            log.info("github_webhook_duplicate", delivery_id=delivery_id, github_event=event)
            return Handled("duplicate", "this delivery was already handled", repository=full_name)
        WebhookDelivery.objects.filter(received_at__lt=timezone.now() - DELIVERY_RETENTION).delete()
        if event not in SYNC_EVENTS:
            return Handled("ignored", f"event {event!r} does not change what is tracked", repository=full_name)
        match = Q(full_name__iexact=full_name)
        if isinstance(github_id, int):
            match |= Q(github_id=github_id)
        repository = Repository.objects.filter(match).first() if full_name or github_id else None
        if repository is None:
            return Handled("ignored", "repository not tracked", repository=full_name)
        services.mark_sync_queued(repository)
        result = tasks.sync_repository.delay(repository.pk, force=True)
        delivery.job_id = str(result.id)
        delivery.save(update_fields=["job_id"])
    log.info("github_webhook_sync_queued", repository=repository.full_name, github_event=event, job_id=str(result.id))
    return Handled("queued", "sync queued", job_id=str(result.id), repository=repository.full_name)
