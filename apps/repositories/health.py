"""``doctor``: GitHub reachable with the configured token, and how much rate limit is left
(once a repository is tracked: a deployment that tracks none does not need GitHub)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings

from commandcenter.health import FAIL, OK, WARN, CheckResult, register

LOW_RATE_RATIO = 0.10


@register("github", doctor_only=True)
def check_github() -> CheckResult:
    import httpx

    from apps.repositories.github import API_VERSION
    from apps.repositories.models import Repository

    if not Repository.objects.exists():
        return CheckResult(OK, "no repository tracked: GitHub not needed yet")

    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
    if settings.GITHUB_TOKEN:
        headers["Authorization"] = f"Bearer {settings.GITHUB_TOKEN}"
    url = f"{settings.GITHUB_API_URL}/rate_limit"  # free: not counted against the limit
    try:
        response = httpx.get(url, headers=headers, timeout=settings.GITHUB_TIMEOUT)
    except httpx.HTTPError as exc:
        return CheckResult(FAIL, f"cannot reach {settings.GITHUB_API_URL}: {exc}")
    if response.status_code == 401:
        return CheckResult(FAIL, "GITHUB_TOKEN is rejected (401): repository syncs without their own token fail")
    if response.status_code != 200:
        return CheckResult(FAIL, f"{url} answered {response.status_code}")
    core = (response.json().get("resources") or {}).get("core") or {}
    remaining, limit = int(core.get("remaining", 0)), int(core.get("limit", 0))
    reset = datetime.fromtimestamp(int(core.get("reset", 0)), UTC)
    detail = f"rate limit {remaining}/{limit} left, resets {reset:%H:%M} UTC"
    problems = []
    if not settings.GITHUB_TOKEN:
        problems.append("no GITHUB_TOKEN (60 requests an hour)")
    if limit and remaining < limit * LOW_RATE_RATIO:
        problems.append("rate limit nearly exhausted")
    if not settings.GITHUB_WEBHOOK_SECRET:
        problems.append("GITHUB_WEBHOOK_SECRET not set (webhooks are refused)")
    if problems:
        return CheckResult(WARN, f"{detail}; " + "; ".join(problems))
    return CheckResult(OK, detail)
