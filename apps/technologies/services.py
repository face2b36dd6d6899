"""Technology writes (admin and API alike, counted in the metrics) and the radar."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from django.db import transaction
from django.db.models import QuerySet

from apps.repositories.models import Repository
from apps.technologies.choices import RadarRing, TechnologyDomain
from apps.technologies.models import Tag, Technology
from commandcenter.metrics import track_technology_operation

log = structlog.get_logger(__name__)


def normalize_tags(names: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for raw in names:
        name = " ".join(raw.split()).lower()
        if name:
            seen.setdefault(name, None)
    return list(seen)


def tags_for(names: Iterable[str]) -> list[Tag]:
    wanted = normalize_tags(names)
    existing = {t.name: t for t in Tag.objects.filter(name__in=wanted)}
    missing = [Tag(name=n) for n in wanted if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name: t for t in Tag.objects.filter(name__in=wanted)}
    return [existing[n] for n in wanted]


def save_technology(technology: Technology, *, created: bool) -> Technology:
    operation = "create" if created else "update"
    try:
        technology.save()
    except Exception:
        track_technology_operation(operation, success=False)
        raise
    track_technology_operation(operation, success=True)
    log.info(f"technology_{operation}d", technology=technology.slug)
    return technology


def _set_relations(
    technology: Technology, tags: Iterable[str] | None, repositories: Iterable[Repository] | None
) -> None:
    if tags is not None:
        technology.tags.set(tags_for(tags))
    if repositories is not None:
        technology.repositories.set(list(repositories))


@transaction.atomic
def create_technology(data: dict[str, Any]) -> Technology:
    tags = data.pop("tags", None)
    repositories = data.pop("repositories", None)
    technology = save_technology(Technology(**data), created=True)
    _set_relations(technology, tags, repositories)
    return technology


@transaction.atomic
def update_technology(technology: Technology, data: dict[str, Any]) -> Technology:
    tags = data.pop("tags", None)
    repositories = data.pop("repositories", None)
    for field, value in data.items():
        setattr(technology, field, value)
    save_technology(technology, created=False)
    _set_relations(technology, tags, repositories)
    return technology


def delete_technology(technology: Technology) -> None:
    slug = technology.slug
    try:
        technology.delete()
    except Exception:
        track_technology_operation("delete", success=False)
        raise
    track_technology_operation("delete", success=True)
    log.info("technology_deleted", technology=slug)


def radar(queryset: QuerySet[Technology]) -> list[dict[str, Any]]:
    """Technologies grouped by domain, then ring (``unplaced`` for those without a ring)."""
    rings = [*RadarRing.values, "unplaced"]
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = {
        domain: {ring: [] for ring in rings} for domain in TechnologyDomain.values
    }
    rows = queryset.order_by("-relevance_score", "title").values(
        "id", "title", "slug", "status", "ring", "domain", "relevance_score", "priority"
    )
    for row in rows:
        grouped[row["domain"]][row["ring"] or "unplaced"].append(
            {
                "id": row["id"],
                "title": row["title"],
                "slug": row["slug"],
                "status": row["status"],
                "relevance_score": row["relevance_score"],
                "priority": row["priority"],
            }
        )
    return [
        {
            "domain": domain,
            "label": TechnologyDomain(domain).label,
            "count": sum(len(v) for v in by_ring.values()),
            "rings": by_ring,
        }
        for domain, by_ring in grouped.items()
    ]
