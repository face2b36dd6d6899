"""``/metrics``: who may scrape it, and what it renders.

Allowed from ``METRICS_ALLOWED_IPS`` (networks; default loopback and the private ranges, where
Prometheus scrapes container IPs) or with the ``METRICS_BASIC_AUTH`` credentials; 403 otherwise.
The peer address is ``REMOTE_ADDR``: the endpoint is never routed through the proxy, so no
forwarded header is trusted. With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn and Celery
prefork), the samples of every process writing to that directory are aggregated in one scrape.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from commandcenter.multiprocess import renderer

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in spec if item.strip())


def ip_allowed(address: str, allowed: list[str] | tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _networks(tuple(allowed)) if network.version == ip.version)


def credentials_match(header: str, expected: str) -> bool:
    """``Authorization: Basic …`` against ``user:password``, in constant time."""
    if not expected or not header.startswith("Basic "):
        return False
    try:
        given = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def scrape_allowed(request: HttpRequest) -> bool:
    if ip_allowed(request.META.get("REMOTE_ADDR", ""), settings.METRICS_ALLOWED_IPS):
        return True
    return credentials_match(request.META.get("HTTP_AUTHORIZATION", ""), settings.METRICS_BASIC_AUTH)


def render() -> bytes:
    if settings.PROMETHEUS_MULTIPROC_DIR:
        return renderer(settings.PROMETHEUS_MULTIPROC_DIR).render()
    return generate_latest(REGISTRY)


def metrics_response(request: HttpRequest) -> HttpResponse:
    if not scrape_allowed(request):
        return HttpResponse("Forbidden: not an allowed scraper.\n", status=403, content_type="text/plain")
    response = HttpResponse(render(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
    response["Cache-Control"] = "no-store"
    return response
