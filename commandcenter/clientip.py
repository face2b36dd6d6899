"""The client's address behind a known number of reverse proxies.

Each proxy appends the address of its peer to ``X-Forwarded-For``; whatever the client sent
itself stands to the left. So with ``NUM_PROXIES`` proxies in front of the app, the client is
the ``NUM_PROXIES``-th entry from the right, the one written by the outermost trusted proxy,
and anything further left is ignored (it could be forged). Without proxies, or when the
header is missing or shorter than expected (a request that did not come through the proxies:
a healthcheck, Prometheus), the peer address ``REMOTE_ADDR`` is the client. django-axes calls
``client_ip``; DRF's throttles read the same ``NUM_PROXIES`` (``REST_FRAMEWORK["NUM_PROXIES"]``).
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def client_address(remote_addr: str, forwarded_for: str, num_proxies: int) -> str:
    """The client among ``REMOTE_ADDR`` and ``X-Forwarded-For`` given ``num_proxies``."""
    if num_proxies > 0 and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",")]
        if len(hops) >= num_proxies:
            candidate = hops[-num_proxies]
            if _valid(candidate):
                return candidate
    return remote_addr


def client_ip(request: HttpRequest) -> str | None:
    address = client_address(
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
        int(getattr(settings, "NUM_PROXIES", 0)),
    )
    return address or None
