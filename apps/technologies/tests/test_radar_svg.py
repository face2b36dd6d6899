from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.technologies.choices import RadarRing, TechnologyStatus
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/technologies/radar.svg"
SVG = "{http://www.w3.org/2000/svg}"


def dots(response):
    root = ET.fromstring(response.content)  # noqa: S314  (the app's own output)
    return [a.get("href") for a in root.iter(f"{SVG}a") if a.get("class") == "cc-blip"]


def test_it_answers_an_svg_document_of_the_radar(api):
    technology = TechnologyFactory.create(ring=RadarRing.ADOPT)
    response = api.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert dots(response) == [f"/admin/technologies/technology/{technology.pk}/change/"]


def test_it_applies_the_tag_and_status_filters(api):
    wanted = TechnologyFactory.create(tags=["python"], status=TechnologyStatus.EVALUATION)
    TechnologyFactory.create(tags=["python"], status=TechnologyStatus.ARCHIVED)
    TechnologyFactory.create(tags=["go"], status=TechnologyStatus.EVALUATION)
    response = api.get(URL, {"tags": "python", "status": "evaluation"})
    assert dots(response) == [f"/admin/technologies/technology/{wanted.pk}/change/"]
    assert len(dots(api.get(URL, {"tags": "python"}))) == 2


def test_a_bad_filter_is_a_400_in_json(api):
    response = api.get(URL, {"status": "bogus"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "status" in response.json()


def test_without_credentials_it_is_a_401_asking_for_a_bearer_key():
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "detail" in json.loads(response.content)


def test_it_needs_the_view_permission(make_user, client_for):
    assert client_for(make_user()).get(URL).status_code == 403
    assert client_for(make_user("technologies.view_technology")).get(URL).status_code == 200


def test_an_admin_session_can_load_it_like_an_image(client, superuser):
    client.force_login(superuser)
    response = client.get(URL, HTTP_ACCEPT="image/avif,image/webp,image/svg+xml,image/*,*/*;q=0.8")
    assert response.status_code == 200
    assert response.content.startswith(b"<svg ")


def test_the_openapi_schema_describes_it_as_svg():
    out = StringIO()
    call_command("spectacular", "--fail-on-warn", "--format", "openapi-json", stdout=out)
    operation = json.loads(out.getvalue())["paths"]["/api/v1/technologies/radar.svg"]["get"]
    assert list(operation["responses"]["200"]["content"]) == ["image/svg+xml"]
    parameters = {p["name"] for p in operation["parameters"]}
    assert {"tags", "status"} <= parameters
