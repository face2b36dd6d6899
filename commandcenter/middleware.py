"""Middleware of the project's own: operational endpoints, request ids and the request log."""

from __future__ import annotations

import re
import secrets
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import structlog
from django.core.exceptions import PermissionDenied
from django.core.signals import got_request_exception
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django_prometheus import middleware as django_prometheus_middleware
from structlog.contextvars import bind_contextvars, bound_contextvars, clear_contextvars, get_contextvars

from commandcenter.exposition import metrics_response
from commandcenter.health import run_checks
from commandcenter.logging import user_id_of

REQUEST_ID_HEADER = "X-Request-ID"
# Accepted from the client when short and made of safe characters (a UUID, a trace id...);
# anything else is replaced, so a log line can never be forged or bloated through it.
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class OperationalEndpointsMiddleware:
    """Answers ``/health`` and ``/metrics`` exactly, first in the chain: ahead of
    ``ALLOWED_HOSTS``, the HTTPS redirect and the request metrics, so the Docker healthcheck
    (``localhost``) and Prometheus (the container IP) always reach them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path == "/health" and request.method in ("GET", "HEAD"):
            overall, checks = run_checks()
            response: HttpResponse = JsonResponse(
                {"status": overall, "checks": checks}, status=503 if overall == "fail" else 200
            )
            response["Cache-Control"] = "no-store"
            return response
        if path == "/metrics" and request.method in ("GET", "HEAD"):
            return metrics_response(request)
        return self.get_response(request)


def request_id_from(request: HttpRequest) -> str:
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    # Else 32 random hex digits: what uuid4().hex looks like, without building a UUID (a
    # quarter of its cost).
    return given if VALID_REQUEST_ID.match(given) else secrets.token_hex(16)


class RequestIdMiddleware:
    """Takes a valid incoming ``X-Request-ID`` or makes one, hands it to
    ``RequestLogMiddleware`` (which binds it to every log line and, through django-structlog's
    Celery integration, to the tasks the request starts), and returns it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        request.started_at = time.perf_counter()  # type: ignore[attr-defined]
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


log = structlog.get_logger(__name__)
# Attributes this middleware keeps on the request: when it started, whether it failed.
_STARTED = "_log_started_at"
_FAILED = "_log_failed"


class RequestLogMiddleware:
    """Logs each request once, as ``request_finished`` (INFO; WARNING for 4xx, ERROR for 5xx)
    or ``request_failed`` (ERROR, with the stack trace) when the view raised, and binds the
    request's fields (``request_id``, ``method``, ``path``, ``ip``, ``user_id``) to every line
    logged while it is served, and to the Celery tasks it starts.

    What django-structlog's ``RequestMiddleware`` did for us, without the work nothing used:
    its ``request_started`` event (built at DEBUG, then dropped), six signal sends, the
    ``request.headers`` mapping built from every header, a second copy of the context.
    Sync only, like the rest of our middleware (the project is served by gunicorn over WSGI;
    under ASGI Django runs the chain in a thread, and structlog's context follows it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        got_request_exception.connect(log_request_failure, dispatch_uid=__name__ + ".log_request_failure")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = getattr(request, "started_at", None) or time.perf_counter()
        request_id = getattr(request, "request_id", None)
        if request_id is None:  # without RequestIdMiddleware
            request_id = request.request_id = request_id_from(request)  # type: ignore[attr-defined]
        request.__dict__[_STARTED] = started
        bind_contextvars(
            request_id=request_id,
            method=request.method,
            path=request.path,
            ip=request.META.get("REMOTE_ADDR"),
            user_id=None,
        )
        try:
            response = self.get_response(request)
            if _FAILED not in request.__dict__:
                status = response.status_code
                emit = log.error if status >= 500 else log.warning if status >= 400 else log.info
                emit(
                    "request_finished",
                    status_code=status,
                    user_id=user_id_of(request),
                    duration=round(time.perf_counter() - started, 6),
                )
                if isinstance(response, StreamingHttpResponse):
                    _log_streaming(response, get_contextvars())
        finally:
            clear_contextvars()
        return response


def log_request_failure(sender: Any, request: HttpRequest | None = None, **_: Any) -> None:
    """``got_request_exception``: a view (or middleware) raised and Django answers 500."""
    if request is None or _STARTED not in request.__dict__ or _FAILED in request.__dict__:
        return  # not a request this middleware serves, or already logged
    if isinstance(sys.exc_info()[1], Http404 | PermissionDenied):
        return  # answered 404 / 403: logged as request_finished
    request.__dict__[_FAILED] = True
    log.exception(
        "request_failed",
        # Explicit too, in case it was raised outside the bound context (an outer middleware).
        request_id=getattr(request, "request_id", None),
        method=request.method,
        path=request.path,
        status_code=500,
        user_id=user_id_of(request),
        duration=round(time.perf_counter() - request.__dict__[_STARTED], 6),
    )


def _log_streaming(response: StreamingHttpResponse, context: dict[str, Any]) -> None:
    """The body of a streaming response (a download) is sent after the middleware returned:
    its chunks are produced with the request's fields bound again, then ``streaming_finished``
    is logged, or ``streaming_failed`` with the error (as django-structlog did)."""
    if response.is_async:
        response.streaming_content = _async_stream(response.streaming_content, context)  # type: ignore[arg-type]
    else:
        response.streaming_content = _sync_stream(response.streaming_content, context)  # type: ignore[arg-type]


def _sync_stream(content: Iterator[bytes], context: dict[str, Any]) -> Iterator[bytes]:
    with bound_contextvars(**context):
        try:
            yield from content
        except Exception:
            log.exception("streaming_failed")
            raise
        log.info("streaming_finished")


async def _async_stream(content: AsyncIterator[bytes], context: dict[str, Any]) -> AsyncIterator[bytes]:
    with bound_contextvars(**context):
        try:
            async for chunk in content:
                yield chunk
        except Exception:
            log.exception("streaming_failed")
            raise
        log.info("streaming_finished")


class _Children(dict[tuple[str, ...], Any]):
    """A labelled metric's children by label values. ``metric.labels()`` checks its
    arguments, converts them and takes a lock on every call; this is one dict lookup. As
    bounded as the metric itself (methods, statuses and view names are)."""

    def __init__(self, metric: Any) -> None:
        super().__init__()
        self.metric = metric

    def __missing__(self, values: tuple[str, ...]) -> Any:
        child = self[values] = self.metric.labels(*values)
        return child


class PrometheusAfterMiddleware(django_prometheus_middleware.PrometheusAfterMiddleware):
    """django-prometheus' per-view request metrics, limited to the series the dashboards and
    alerts read: requests by method, transport and view; responses by status (and view,
    method); latency by view and method; exceptions. The request and response body-size
    histograms and the charset, streaming, template and AJAX counters are left out: they
    cost about a third of the middleware's time per request and nothing reads them. The
    labelled children are looked up once and kept, and the transport is worked out once
    per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)
        metrics = self.metrics
        self._by_method = _Children(metrics.requests_by_method)
        self._by_transport = _Children(metrics.requests_by_transport)
        self._by_view_transport_method = _Children(metrics.requests_by_view_transport_method)
        self._by_status = _Children(metrics.responses_by_status)
        self._by_status_view_method = _Children(metrics.responses_by_status_view_method)
        self._latency_by_view_method = _Children(metrics.requests_latency_by_view_method)

    def process_request(self, request: HttpRequest) -> None:
        transport = "https" if request.is_secure() else "http"
        request.__dict__["_prometheus_transport"] = transport
        self._by_method[(self._method(request),)].inc()
        self._by_transport[(transport,)].inc()
        request.prometheus_after_middleware_event = django_prometheus_middleware.Time()  # type: ignore[attr-defined]

    def process_view(self, request: HttpRequest, view_func: Any, *view_args: Any, **view_kwargs: Any) -> None:
        match = request.resolver_match
        if match is not None:
            transport = request.__dict__.get("_prometheus_transport") or self._transport(request)
            self._by_view_transport_method[
                (match.view_name or "<unnamed view>", transport, self._method(request))
            ].inc()

    def process_template_response(self, request: HttpRequest, response: Any) -> Any:
        return response

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        method = self._method(request)
        view = self._get_view_name(request)
        status = str(response.status_code)
        self._by_status[(status,)].inc()
        self._by_status_view_method[(status, view, method)].inc()
        started = getattr(request, "prometheus_after_middleware_event", None)
        if started is not None:
            latency = django_prometheus_middleware.TimeSince(started)
            self._latency_by_view_method[(view, method)].observe(latency)
        else:
            self.metrics.requests_unknown_latency.inc()
        return response
