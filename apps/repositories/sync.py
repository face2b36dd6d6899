"""Repository sync with GitHub: metadata, latest commit on the default branch, latest release.

One call, ``sync_repository``, used by the Celery task, the command, research runs
(``sync_if_stale``) and nothing else. A permanent GitHub error (404, 401, 403) is recorded on
the repository as a readable ``sync_error`` and returned; a transient one (5xx, timeout) and
an exhausted rate limit are recorded and raised, so that the task can retry or reschedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.repositories import github
from apps.repositories.choices import SyncStatus
from apps.repositories.models import Repository
from apps.repositories.validators import validate_owner, validate_repository_name
from commandcenter.metrics import track_repository_operation

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SyncOutcome:
    full_name: str
    ok: bool
    changed: bool = False  # False: every resource answered 304 or came from the cache unchanged
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"repository": self.full_name, "ok": self.ok, "changed": self.changed, "error": self.error}


def is_stale(repository: Repository, *, now: datetime | None = None) -> bool:
    if repository.last_synced_at is None:
        return True
    limit = timedelta(minutes=settings.REPOSITORY_STALE_MINUTES)
    return (now or timezone.now()) - repository.last_synced_at > limit


def sync_if_stale(repository: Repository) -> bool:
    """Sync ``repository`` when its last sync is older than REPOSITORY_STALE_MINUTES; never
    raises on GitHub errors (they are recorded on the repository). True when it synced."""
    if not is_stale(repository):
        return False
    try:
        outcome = sync_repository(repository)
    except github.GitHubError:
        return False
    return outcome.ok


def sync_repository(repository: Repository, *, force: bool = False) -> SyncOutcome:
    """Read ``repository`` from GitHub and store what changed. ``force`` skips the answer cache
    (a webhook says something changed); ETags are still sent, so unchanged resources cost a 304."""
    Repository.objects.filter(pk=repository.pk).update(sync_status=SyncStatus.SYNCING)
    started = timezone.now()
    try:
        with github.GitHubClient(repository.access_token) as client:
            changed = _read_into(repository, client, use_cache=not force)
    except (github.TransientGitHubError, github.RateLimited) as exc:
        _record_error(repository, exc, status=SyncStatus.PENDING)
        raise
    except github.GitHubError as exc:
        _record_error(repository, exc, status=SyncStatus.FAILED)
        return SyncOutcome(repository.full_name, ok=False, error=str(exc))
    repository.last_synced_at = timezone.now()
    repository.sync_status = SyncStatus.OK
    repository.sync_error = ""
    try:
        with transaction.atomic():
            repository.save()
    except IntegrityError:
        # GitHub renamed it onto a name another row holds, or the same GitHub id is tracked twice.
        repository.refresh_from_db()
        error = github.GitHubError(
            "GitHub reports this repository under a name or id another tracked repository already has"
        )
        _record_error(repository, error, status=SyncStatus.FAILED)
        return SyncOutcome(repository.full_name, ok=False, error=str(error))
    track_repository_operation("sync", success=True)
    log.info(
        "repository_synced",
        repository=repository.full_name,
        changed=changed,
        duration=round((timezone.now() - started).total_seconds(), 3),
    )
    return SyncOutcome(repository.full_name, ok=True, changed=changed)


def mark_failed(repository_id: int, reason: str) -> None:
    """The task gave up retrying: the last transient error becomes a failure."""
    Repository.objects.filter(pk=repository_id).update(sync_status=SyncStatus.FAILED, sync_error=reason[:2000])


def _record_error(repository: Repository, exc: github.GitHubError, *, status: str) -> None:
    track_repository_operation("sync", success=False)
    Repository.objects.filter(pk=repository.pk).update(sync_status=status, sync_error=str(exc)[:2000])
    repository.sync_status, repository.sync_error = status, str(exc)[:2000]
    log.warning(
        "repository_sync_failed",
        repository=repository.full_name,
        error=str(exc),
        error_type=type(exc).__name__,
        retryable=isinstance(exc, github.TransientGitHubError | github.RateLimited),
    )


def _read_into(repository: Repository, client: github.GitHubClient, *, use_cache: bool) -> bool:
    etags: dict[str, str] = dict(repository.github_etags or {})
    changed = False

    answer = client.repository(repository.full_name, etag=etags.get("repository", ""), use_cache=use_cache)
    if not answer.not_modified:
        changed |= _apply_repository(repository, answer.data)
        etags["repository"] = answer.etag

    branch = repository.default_branch or "main"
    commit = client.latest_commit(repository.full_name, branch, etag=etags.get("commit", ""), use_cache=use_cache)
    if not commit.not_modified:
        changed |= _apply_commit(repository, commit.data)
        etags["commit"] = commit.etag

    release = client.latest_release(repository.full_name, etag=etags.get("release", ""), use_cache=use_cache)
    if release is None:
        changed |= _apply_release(repository, {})
        etags.pop("release", None)
    elif not release.not_modified:
        changed |= _apply_release(repository, release.data)
        etags["release"] = release.etag

    repository.github_etags = etags
    return changed


def _assign(repository: Repository, values: dict[str, Any]) -> bool:
    changed = False
    for field, value in values.items():
        if getattr(repository, field) != value:
            setattr(repository, field, value)
            changed = True
    return changed


def _apply_repository(repository: Repository, data: dict[str, Any]) -> bool:
    values: dict[str, Any] = {
        "github_id": data.get("id"),
        "description": data.get("description") or "",
        "default_branch": data.get("default_branch") or repository.default_branch,
        "is_private": bool(data.get("private")),
        "stars": int(data.get("stargazers_count") or 0),
        "forks": int(data.get("forks_count") or 0),
        "open_issues": int(data.get("open_issues_count") or 0),
        "language": (data.get("language") or "")[:100],
        "topics": list(data.get("topics") or []),
        "url": data.get("html_url") or repository.url,
        "clone_url": data.get("clone_url") or repository.clone_url,
    }
    # A rename or transfer: GitHub answered (through a redirect) under the new full name.
    owner, _, name = str(data.get("full_name") or "").partition("/")
    if owner and name and f"{owner}/{name}" != repository.full_name:
        log.info("repository_renamed_on_github", old=repository.full_name, new=f"{owner}/{name}")
        values.update(owner=owner, name=name, full_name=f"{owner}/{name}")
    return _assign(repository, values)


def _apply_commit(repository: Repository, data: dict[str, Any]) -> bool:
    commit = data.get("commit") or {}
    author = commit.get("author") or commit.get("committer") or {}
    return _assign(
        repository,
        {
            "last_commit_sha": str(data.get("sha") or "")[:64],
            "last_commit_message": commit.get("message") or "",
            "last_commit_author": str(author.get("name") or "")[:255],
            "last_commit_date": _datetime(author.get("date")),
        },
    )


def _apply_release(repository: Repository, data: dict[str, Any]) -> bool:
    return _assign(
        repository,
        {
            "latest_release_tag": str(data.get("tag_name") or "")[:255],
            "latest_release_name": str(data.get("name") or "")[:255],
            "latest_release_date": _datetime(data.get("published_at")),
            "latest_release_url": str(data.get("html_url") or "")[:500],
        },
    )


def _datetime(value: Any) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


# --- "add repository from URL" ---------------------------------------------------------------------


def parse_repository_url(url: str) -> tuple[str, str]:
    """``https://github.com/owner/name`` (or the Enterprise host of GITHUB_API_URL; an optional
    ``.git`` or trailing slash) → ``(owner, name)``; ``ValidationError`` with the reason otherwise."""
    text = (url or "").strip()
    parts = urlsplit(text)
    host = github.web_host()
    allowed_schemes = {"https"} if host == "github.com" else {"https", "http"}
    if parts.scheme not in allowed_schemes or not parts.hostname:
        raise ValidationError(f"Enter a repository URL such as https://{host}/owner/name.", code="invalid_url")
    if parts.hostname.lower() not in {host, f"www.{host}"}:
        raise ValidationError(
            f"Only repositories on {host} can be added (the host of GITHUB_API_URL), not {parts.hostname}.",
            code="wrong_host",
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationError("The repository URL must not carry a query, fragment or credentials.", code="invalid_url")
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) != 2:
        raise ValidationError(
            f"Enter the repository's own URL, https://{host}/owner/name (got {len(segments)} path segments).",
            code="invalid_url",
        )
    owner, name = segments
    name = name.removesuffix(".git")
    validate_owner(owner)
    validate_repository_name(name)
    return owner, name


def add_from_url(url: str) -> tuple[Repository, bool]:
    """The repository of ``url``, created when not tracked yet; (repository, created)."""
    from apps.repositories.services import save_repository

    owner, name = parse_repository_url(url)
    existing = Repository.objects.filter(full_name__iexact=f"{owner}/{name}").first()
    if existing is not None:
        return existing, False
    repository = Repository(owner=owner, name=name, sync_status=SyncStatus.PENDING)
    with transaction.atomic():
        save_repository(repository, created=True)
    return repository, True
