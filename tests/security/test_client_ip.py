"""The client address behind NUM_PROXIES reverse proxies (commandcenter.clientip)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import RequestFactory, override_settings
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle

from commandcenter.clientip import client_address, client_ip

TRAEFIK = "10.0.3.2"


@pytest.mark.parametrize(
    ("forwarded_for", "num_proxies", "expected"),
    [
        ("", 0, TRAEFIK),  # no proxy configured: the peer
        ("198.51.100.7", 0, TRAEFIK),  # a forwarded header is not trusted without proxies
        ("198.51.100.7", 1, "198.51.100.7"),  # the address Traefik appended
        ("1.2.3.4, 198.51.100.7", 1, "198.51.100.7"),  # a forged hop on the left is ignored
        ("198.51.100.7, 172.18.0.4", 2, "198.51.100.7"),  # CDN + Traefik
        ("198.51.100.7", 2, TRAEFIK),  # fewer hops than proxies: did not come through them
        ("", 1, TRAEFIK),  # a direct request (healthcheck, Prometheus)
        ("unknown", 1, TRAEFIK),  # not an address
        ("2001:db8::7", 1, "2001:db8::7"),
    ],
)
def test_it_picks_the_hop_written_by_the_outermost_trusted_proxy(forwarded_for, num_proxies, expected):
    assert client_address(TRAEFIK, forwarded_for, num_proxies) == expected


def test_it_reads_the_request_and_the_setting():
    request = RequestFactory().get("/", REMOTE_ADDR=TRAEFIK, HTTP_X_FORWARDED_FOR="9.9.9.9, 198.51.100.7")
    assert client_ip(request) == TRAEFIK  # test settings: NUM_PROXIES=0
    with override_settings(NUM_PROXIES=1):
        assert client_ip(request) == "198.51.100.7"


def test_it_gives_none_without_any_address():
    request = RequestFactory().get("/")
    del request.META["REMOTE_ADDR"]
    assert client_ip(request) is None


def test_the_api_throttles_count_clients_by_the_same_rule():
    assert api_settings.NUM_PROXIES == settings.NUM_PROXIES
    request = RequestFactory().get("/", REMOTE_ADDR=TRAEFIK, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    # As production.py sets them both.
    with override_settings(NUM_PROXIES=1, REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}):
        assert AnonRateThrottle().get_ident(request) == client_ip(request) == "198.51.100.7"
