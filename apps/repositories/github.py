"""A small GitHub REST client: conditional requests, rate-limit awareness, typed errors.

Answers are cached (Django's cache, Redis in production) for ``GITHUB_CACHE_SECONDS`` so a
burst of syncs of one repository costs one request; the ETag of each answer is kept by the
caller (on the repository) and sent as ``If-None-Match`` so an unchanged resource costs a 304,
which GitHub does not count against the rate limit. When the limit is exhausted, the reset
time is remembered (per token) and every further call fails fast with ``RateLimited`` until
then, instead of hammering GitHub.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import structlog
from django.conf import settings
from django.core.cache import cache

if TYPE_CHECKING:
    import httpx

log = structlog.get_logger(__name__)

API_VERSION = "2022-11-28"


class GitHubError(Exception):
    """A GitHub answer that ends this sync; ``str()`` is the readable reason stored on the repository."""

    transient = False


class TransientGitHubError(GitHubError):
    """5xx, timeouts, connection errors: worth retrying with backoff."""

    transient = True


class NotFound(GitHubError):
    pass


class Unauthorized(GitHubError):
    pass


class Forbidden(GitHubError):
    pass


class RateLimited(GitHubError):
    """The rate limit is exhausted until ``reset_at``."""

    def __init__(self, reset_at: datetime, message: str = "") -> None:
        self.reset_at = reset_at
        super().__init__(message or f"GitHub rate limit exhausted until {reset_at:%Y-%m-%d %H:%M:%S} UTC")


@dataclass(frozen=True)
class Answer:
    """``data`` is None when GitHub answered 304 Not Modified to our ETag."""

    data: Any
    etag: str
    cached: bool = False

    @property
    def not_modified(self) -> bool:
        return self.data is None


def web_host() -> str:
    """The web host whose repository URLs belong to ``GITHUB_API_URL``: api.github.com →
    github.com; an Enterprise ``https://ghe.example.com/api/v3`` → ghe.example.com."""
    host = (urlsplit(settings.GITHUB_API_URL).hostname or "").lower()
    return "github.com" if host == "api.github.com" else host


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16] if token else "anonymous"


class GitHubClient:
    def __init__(self, token: str = "", *, base_url: str | None = None, timeout: float | None = None) -> None:
        import httpx  # 70 ms of import: paid by the processes that sync, not by every start-up

        self.token = token or settings.GITHUB_TOKEN
        self.base_url = (base_url or settings.GITHUB_API_URL).rstrip("/")
        self._who = _fingerprint(self.token)
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"commandcenter/{settings.APP_VERSION}",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout if timeout is not None else settings.GITHUB_TIMEOUT,
            # A renamed or transferred repository answers 301 to its new location.
            follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- one resource -------------------------------------------------------------------------

    def get(self, path: str, *, etag: str = "", use_cache: bool = True) -> Answer:
        """GET ``path`` (e.g. ``/repos/o/n``). A fresh cached answer is returned without a request
        unless ``use_cache`` is false; otherwise the request carries ``If-None-Match: etag``."""
        key = f"github:{self._who}:{hashlib.sha256(path.encode()).hexdigest()[:32]}"
        if use_cache:
            hit = cache.get(key)
            if hit is not None:
                return Answer(data=hit["data"], etag=hit["etag"], cached=True)
        import httpx

        self._check_rate_limit()
        headers = {"If-None-Match": etag} if etag else {}
        try:
            response = self._http.get(path, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientGitHubError(f"GitHub did not answer within {self._http.timeout.read} s") from exc
        except httpx.TransportError as exc:
            raise TransientGitHubError(f"cannot reach GitHub at {self.base_url}: {exc}") from exc
        self._note_rate_limit(response)
        if response.status_code == 304:
            return Answer(data=None, etag=etag)
        if response.status_code == 200:
            try:
                data = response.json()
            except ValueError as exc:
                raise TransientGitHubError(f"GitHub answered 200 with a body that is not JSON for {path}") from exc
            new_etag = response.headers.get("ETag", "")
            if settings.GITHUB_CACHE_SECONDS > 0:
                cache.set(key, {"data": data, "etag": new_etag}, settings.GITHUB_CACHE_SECONDS)
            return Answer(data=data, etag=new_etag)
        raise self._error(path, response)

    # --- GitHub's resources -----------------------------------------------------------------------

    def repository(self, full_name: str, *, etag: str = "", use_cache: bool = True) -> Answer:
        return self.get(f"/repos/{_quoted(full_name)}", etag=etag, use_cache=use_cache)

    def latest_commit(self, full_name: str, branch: str, *, etag: str = "", use_cache: bool = True) -> Answer:
        return self.get(f"/repos/{_quoted(full_name)}/commits/{quote(branch, safe='')}", etag=etag, use_cache=use_cache)

    def latest_release(self, full_name: str, *, etag: str = "", use_cache: bool = True) -> Answer | None:
        """None when the repository has no (non-draft, non-prerelease) release."""
        try:
            return self.get(f"/repos/{_quoted(full_name)}/releases/latest", etag=etag, use_cache=use_cache)
        except NotFound:
            return None

    # --- rate limit and errors ---------------------------------------------------------------------

    def _rate_key(self) -> str:
        return f"github:ratelimit:{self._who}"

    def _check_rate_limit(self) -> None:
        reset = cache.get(self._rate_key())
        if reset is not None and reset > time.time():
            raise RateLimited(datetime.fromtimestamp(reset, UTC))

    def _note_rate_limit(self, response: httpx.Response) -> None:
        if response.headers.get("X-RateLimit-Remaining") == "0":
            reset = _reset_time(response)
            if reset is not None:
                cache.set(self._rate_key(), reset, max(1, int(reset - time.time()) + 1))
                log.warning("github_rate_limit_exhausted", reset_at=datetime.fromtimestamp(reset, UTC).isoformat())

    def _error(self, path: str, response: httpx.Response) -> GitHubError:
        status = response.status_code
        message = _message(response)
        if status in (403, 429):
            reset = _reset_time(response)
            if reset is not None and (response.headers.get("X-RateLimit-Remaining") == "0" or status == 429):
                return RateLimited(datetime.fromtimestamp(reset, UTC))
            retry_after = response.headers.get("Retry-After", "")
            if retry_after.isdigit():  # secondary rate limit
                return RateLimited(datetime.fromtimestamp(time.time() + int(retry_after), UTC))
            if status == 429:
                return RateLimited(datetime.fromtimestamp(time.time() + 60, UTC))
            return Forbidden(f"GitHub refused access (403) to {path}: {message}")
        if status == 401:
            return Unauthorized(
                f"GitHub rejected the credentials (401 {message}): check GITHUB_TOKEN or the repository's token"
            )
        if status == 404:
            return NotFound(
                f"GitHub answered 404 for {path}: the repository does not exist, or the token cannot see it"
            )
        if status >= 500:
            return TransientGitHubError(f"GitHub answered {status} for {path}: {message}")
        return GitHubError(f"GitHub answered {status} for {path}: {message}")


def _quoted(full_name: str) -> str:
    owner, _, name = full_name.partition("/")
    return f"{quote(owner, safe='')}/{quote(name, safe='')}"


def _reset_time(response: httpx.Response) -> float | None:
    value = response.headers.get("X-RateLimit-Reset", "")
    return float(value) if value.isdigit() else None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no message"
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:300]
    return response.reason_phrase or "no message"
