from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client


def test_the_openapi_schema_generates_without_warnings():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", stdout=out)
    assert '"/api/v1/technologies/"' in out.getvalue()
    assert '"/api/v1/jobs/{job_id}/"' in out.getvalue() or '"/api/v1/jobs/{task_id}/"' in out.getvalue()


@pytest.mark.django_db
def test_schema_and_docs_are_served():
    client = Client()
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_root_redirects_to_the_admin():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
