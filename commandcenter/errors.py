"""Answers for a database that cannot be reached: 503, never a stack trace.

While PostgreSQL is down (restarting, failed over, out of connections) every request that
touches it raises ``OperationalError`` or ``InterfaceError``. Those are an outage of a
dependency, not a bug of the request: the API answers ``503 {"detail": "..."}`` with a
``Retry-After`` header (``exception_handler``, wired as DRF's ``EXCEPTION_HANDLER``), and every
other page a short 503 page (``DatabaseUnavailableMiddleware``), in every environment,
``DEBUG`` included. Django drops a broken connection at the end of the request and opens a
new one on the next (``CONN_HEALTH_CHECKS``), so the same processes answer again as soon as
the database is back: nothing needs a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

log = structlog.get_logger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
DETAIL = "Service temporarily unavailable: the database is unreachable. Try again shortly."
RETRY_AFTER_SECONDS = 5
TOO_LARGE = "Request body too large (DATA_UPLOAD_MAX_MEMORY_SIZE)."
HTML_PAGE = (
    "<!doctype html><html><head><title>Service unavailable</title></head><body>"
    "<h1>Service unavailable</h1><p>The database is unreachable. Try again shortly.</p>"
    "</body></html>"
)


def is_database_outage(exc: BaseException) -> bool:
    return isinstance(exc, DATABASE_ERRORS)


def _log(request: Any, exc: BaseException) -> None:
    # One line with the driver's reason (it names the host and port); a traceback would add
    # nothing during an outage but volume.
    log.warning("database_unavailable", path=getattr(request, "path", ""), error=f"{type(exc).__name__}: {exc}"[:500])


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus ``503 {"detail": ...}`` for an unreachable database and
    ``413 {"detail": ...}`` for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django's own
    answer to it is an HTML 400 page)."""
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": TOO_LARGE}, status=413)
    if is_database_outage(exc):
        _log(context.get("request"), exc)
        set_rollback()
        return Response({"detail": DETAIL}, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return drf_exception_handler(exc, context)


class DatabaseUnavailableMiddleware:
    """The same 503 for views outside DRF (the admin, the login page) and for an API answer
    whose rendering reached the database: JSON under ``/api/`` or when JSON is asked for, a
    short HTML page otherwise."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_outage(exception):
            return None
        _log(request, exception)
        response: HttpResponse
        if request.path_info.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
            response = JsonResponse({"detail": DETAIL}, status=503)
        else:
            response = HttpResponse(HTML_PAGE, status=503, content_type="text/html; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response
