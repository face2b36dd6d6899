"""A local GitHub: pytest-httpserver answering the REST endpoints a sync reads."""

from __future__ import annotations

import time
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


def repository_json(full_name: str, **overrides: Any) -> dict[str, Any]:
    owner, name = full_name.split("/")
    body = {
        "id": 1296269,
        "full_name": full_name,
        "name": name,
        "owner": {"login": owner},
        "html_url": f"https://github.com/{full_name}",
        "clone_url": f"https://github.com/{full_name}.git",
        "description": "The project that is synced",
        "default_branch": "main",
        "private": False,
        "stargazers_count": 80,
        "forks_count": 9,
        "open_issues_count": 3,
        "language": "Python",
        "topics": ["django", "devops"],
    }
    body.update(overrides)
    return body


def commit_json(sha: str = "6dcb09b5b57875f334f61aebed695e2e4193db5e") -> dict[str, Any]:
    return {
        "sha": sha,
        "commit": {
            "message": "Fix the sync of renamed repositories",
            "author": {"name": "Monalisa Octocat", "date": "2026-11-20T10:00:00Z"},
        },
    }


def release_json() -> dict[str, Any]:
    return {
        "tag_name": "v2.1.0",
        "name": "Version 2.1",
        "published_at": "2026-11-01T12:00:00Z",
        "html_url": "https://github.com/o/n/releases/tag/v2.1.0",
    }


def serve_repository(server: HTTPServer, full_name: str, *, etag: str = '"r1"', release: bool = True) -> None:
    """200 answers with ETags for the three resources; a request carrying the current ETag gets 304."""
    resources: list[tuple[str, Any, str]] = [
        (f"/repos/{full_name}", repository_json(full_name), etag),
        (f"/repos/{full_name}/commits/main", commit_json(), '"c1"'),
    ]
    if release:
        resources.append((f"/repos/{full_name}/releases/latest", release_json(), '"l1"'))
    else:
        server.expect_request(f"/repos/{full_name}/releases/latest").respond_with_json(
            {"message": "Not Found"}, status=404
        )
    for path, body, tag in resources:
        server.expect_request(path, headers={"If-None-Match": tag}).respond_with_data("", status=304)
        server.expect_request(path).respond_with_json(body, headers={"ETag": tag, **rate_headers()})


def rate_headers(remaining: int = 4999, reset_in: int = 3600) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(time.time()) + reset_in),
    }


def rate_limited(reset_in: int = 3600) -> Response:
    return Response(
        '{"message": "API rate limit exceeded for 127.0.0.1."}',
        status=403,
        headers=rate_headers(remaining=0, reset_in=reset_in),
        content_type="application/json",
    )


def paths(server: HTTPServer) -> list[str]:
    return [request.path for request, _ in server.log]


def request_headers(server: HTTPServer) -> list[Request]:
    return [request for request, _ in server.log]
