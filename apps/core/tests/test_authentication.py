from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.models import APIKey
from apps.core.services import authenticate_key, hash_key, issue_api_key
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/technologies/"


def test_it_answers_401_with_bearer_challenge_without_credentials():
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    ["Bearer nonsense", "Bearer cc_deadbeef_wrong", "Bearer", "Bearer a b", "Token abc", "Bearer cc_\u00e9"],
)
def test_it_rejects_bad_credentials_with_401(header, superuser):
    issue_api_key(superuser)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_it_stores_only_a_hash_and_a_visible_prefix(superuser):
    issued = issue_api_key(superuser, name="ci")
    stored = APIKey.objects.get(pk=issued.api_key.pk)
    assert issued.key.startswith(f"cc_{stored.prefix}_")
    assert stored.key_hash == hash_key(issued.key)
    assert issued.key not in str(stored.__dict__)


def test_it_accepts_a_valid_key(api):
    TechnologyFactory.create()
    response = api.get(URL)
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_it_rejects_expired_and_revoked_keys(superuser):
    expired = issue_api_key(superuser, expires_in_days=1)
    APIKey.objects.filter(pk=expired.api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked = issue_api_key(superuser)
    APIKey.objects.filter(pk=revoked.api_key.pk).update(revoked_at=timezone.now())
    for issued in (expired, revoked):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.key}")
        assert client.get(URL).status_code == 401


def test_it_rejects_keys_of_inactive_users(superuser, client_for):
    client = client_for(superuser)
    superuser.is_active = False
    superuser.save()
    assert client.get(URL).status_code == 401


def test_read_only_keys_can_read_but_not_write(superuser, client_for):
    client = client_for(superuser, read_only=True)
    assert client.get(URL).status_code == 200
    response = client.post(URL, {"title": "Nope"})
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]


def test_model_permissions_apply_to_the_api(make_user, client_for):
    technology = TechnologyFactory.create()
    viewer = client_for(make_user("technologies.view_technology"))
    assert viewer.get(URL).status_code == 200
    assert viewer.patch(f"{URL}{technology.pk}/", {"priority": 1}).status_code == 403
    editor = client_for(make_user("technologies.view_technology", "technologies.change_technology"))
    assert editor.patch(f"{URL}{technology.pk}/", {"priority": 1}).status_code == 200
    nobody = client_for(make_user())
    assert nobody.get(URL).status_code == 403


def test_authentication_does_not_write_on_every_request(api):
    api.get(URL)  # first use records last_used_at
    with CaptureQueriesContext(connection) as queries:
        assert api.get(URL).status_code == 200
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT"))]
    assert writes == []


def test_last_used_at_is_refreshed_after_the_resolution(superuser):
    issued = issue_api_key(superuser)
    authenticate_key(issued.key)
    first = APIKey.objects.get(pk=issued.api_key.pk).last_used_at
    assert first is not None
    APIKey.objects.filter(pk=issued.api_key.pk).update(last_used_at=first - timedelta(hours=1))
    authenticate_key(issued.key)
    refreshed = APIKey.objects.get(pk=issued.api_key.pk).last_used_at
    assert refreshed is not None
    assert refreshed > first - timedelta(minutes=1)


def test_session_authentication_serves_the_browsable_api(client, superuser):
    client.force_login(superuser)
    response = client.get(URL, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Technology" in response.content
