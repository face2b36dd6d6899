"""Middleware of the project's own: operational endpoints and request ids."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django_prometheus import middleware as django_prometheus_middleware

from commandcenter.exposition import metrics_response
from commandcenter.health import run_checks

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
    return given if VALID_REQUEST_ID.match(given) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Takes a valid incoming ``X-Request-ID`` or makes one, hands it to django-structlog
    (which binds it to every log line and to Celery tasks started by the request), and
    returns it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request)
        request.META["HTTP_X_REQUEST_ID"] = request_id
        request.request_id = request_id  # type: ignore[attr-defined]
        request.started_at = time.perf_counter()  # type: ignore[attr-defined]
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class PrometheusAfterMiddleware(django_prometheus_middleware.PrometheusAfterMiddleware):
    """django-prometheus' per-view request metrics, limited to the series the dashboards and
    alerts read: requests by method, transport and view; responses by status (and view,
    method); latency by view and method; exceptions. The request and response body-size
    histograms and the charset, streaming, template and AJAX counters are left out: they
    cost about a third of the middleware's time per request and nothing reads them."""

    def process_request(self, request: HttpRequest) -> None:
        method = self._method(request)
        self.metrics.requests_by_method.labels(method).inc()
        self.metrics.requests_by_transport.labels(self._transport(request)).inc()
        request.prometheus_after_middleware_event = django_prometheus_middleware.Time()  # type: ignore[attr-defined]

    def process_template_response(self, request: HttpRequest, response: Any) -> Any:
        return response

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        method = self._method(request)
        view = self._get_view_name(request)
        status = str(response.status_code)
        self.metrics.responses_by_status.labels(status).inc()
        self.metrics.responses_by_status_view_method.labels(status, view, method).inc()
        started = getattr(request, "prometheus_after_middleware_event", None)
        if started is not None:
            latency = django_prometheus_middleware.TimeSince(started)
            self.metrics.requests_latency_by_view_method.labels(view, method).observe(latency)
        else:
            self.metrics.requests_unknown_latency.inc()
        return response
