"""Admin login brute-force protection (django-axes)."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core.tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("lockout_after_three")]

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def lockout_after_three():
    with override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3):
        yield


@pytest.fixture
def staff():
    user = UserFactory.create(username="ops", is_staff=True, is_superuser=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def login(client: Client, password: str, **extra: str) -> int:
    response = client.post(
        reverse("admin:login"), {"username": "ops", "password": password, "next": reverse("admin:index")}, **extra
    )
    return response.status_code


def test_it_locks_an_address_out_after_the_failure_limit(staff):
    client = Client(REMOTE_ADDR="203.0.113.5")
    assert [login(client, "wrong") for _ in range(3)] == [200, 200, 429]
    # Even the right password is refused now, from that address only.
    assert login(client, PASSWORD) == 429
    assert login(Client(REMOTE_ADDR="203.0.113.6"), PASSWORD) == 302


def test_axes_reset_lifts_the_lockout(staff):
    client = Client(REMOTE_ADDR="203.0.113.5")
    for _ in range(3):
        login(client, "wrong")
    assert login(client, PASSWORD) == 429
    call_command("axes_reset", verbosity=0)
    assert login(client, PASSWORD) == 302


def test_a_success_resets_the_count(staff):
    client = Client(REMOTE_ADDR="203.0.113.5")
    assert [login(client, "wrong") for _ in range(2)] == [200, 200]
    assert login(client, PASSWORD) == 302
    assert [login(Client(REMOTE_ADDR="203.0.113.5"), "wrong") for _ in range(2)] == [200, 200]


@override_settings(NUM_PROXIES=1)
def test_behind_the_proxy_each_client_is_counted_apart(staff):
    proxy = {"REMOTE_ADDR": "10.0.3.2"}
    attacker = Client(**proxy)
    # Forging the left of X-Forwarded-For does not give a fresh address per attempt.
    for forged in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
        login(attacker, "wrong", HTTP_X_FORWARDED_FOR=f"{forged}, 198.51.100.66")
    assert login(attacker, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.66") == 429
    # Another client behind the same proxy still logs in.
    assert login(Client(**proxy), PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7") == 302


def test_api_keys_are_not_subject_to_the_lockout(staff, client_for):
    client = Client(REMOTE_ADDR="203.0.113.5")
    for _ in range(3):
        login(client, "wrong")
    assert login(client, PASSWORD) == 429
    failures = AccessAttempt.objects.get().failures_since_start
    assert client_for(staff).get("/api/v1/jobs/", REMOTE_ADDR="203.0.113.5").status_code == 200
    bad_key = APIClient(REMOTE_ADDR="203.0.113.5", HTTP_AUTHORIZATION="Bearer cc_bad")
    for _ in range(5):
        assert bad_key.get("/api/v1/jobs/").status_code == 401
    # Refused as bad keys, never counted as failed logins.
    assert AccessAttempt.objects.get().failures_since_start == failures
