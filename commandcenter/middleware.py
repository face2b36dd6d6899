"""Middleware that must run before Django's host and TLS handling."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from commandcenter.health import run_checks


class HealthCheckMiddleware:
    """Answers ``/health`` exactly, ahead of ``ALLOWED_HOSTS`` and the HTTPS redirect, so the
    Docker healthcheck (``localhost``) and Traefik (the container IP) always reach it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/health" and request.method in ("GET", "HEAD"):
            overall, checks = run_checks()
            response = JsonResponse({"status": overall, "checks": checks}, status=503 if overall == "fail" else 200)
            response["Cache-Control"] = "no-store"
            return response
        return self.get_response(request)
