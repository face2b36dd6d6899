from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from apps.repositories.models import Repository
from apps.repositories.tests.factories import RepositoryFactory

pytestmark = pytest.mark.django_db

EXPORT_URL = reverse("admin:repositories_repository_export")
TOKEN = "ghp_secret_token_never_exported"


def export(client, query: str, file_format: str) -> bytes:
    page = client.get(f"{EXPORT_URL}?{query}")
    choices = {label: value for value, label in page.context["form"].fields["format"].choices if value != ""}
    response = client.post(f"{EXPORT_URL}?{query}", {"format": choices[file_format]})
    assert response.status_code == 200
    return response.content


def test_the_change_list_export_link_keeps_the_filters(client, superuser):
    client.force_login(superuser)
    page = client.get(reverse("admin:repositories_repository_changelist"), {"language__exact": "Go"})
    assert f'href="{EXPORT_URL}?language__exact=Go"' in page.content.decode()


def test_the_csv_export_holds_the_filtered_repositories_and_never_the_token(client, superuser):
    client.force_login(superuser)
    RepositoryFactory.create(owner="grafana", name="loki", language="Go", access_token=TOKEN)
    RepositoryFactory.create(owner="traefik", name="traefik", language="Go")
    RepositoryFactory.create(owner="django", name="django", language="Python", access_token=TOKEN)
    content = export(client, "language__exact=Go", "csv").decode()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert sorted(row["full_name"] for row in rows) == ["grafana/loki", "traefik/traefik"]
    assert "access_token" not in rows[0]
    assert "github_etags" not in rows[0]
    assert TOKEN not in content
    assert Repository.objects.get(full_name="grafana/loki").access_token == TOKEN


def test_the_json_export_never_holds_the_token_either(client, superuser):
    client.force_login(superuser)
    RepositoryFactory.create(owner="grafana", name="loki", access_token=TOKEN)
    content = export(client, "", "json").decode()
    assert TOKEN not in content
    (row,) = json.loads(content)
    assert row["full_name"] == "grafana/loki"
    assert "access_token" not in row


def test_exporting_repositories_needs_the_view_permission(client, make_user):
    client.force_login(make_user(is_staff=True))
    assert client.get(EXPORT_URL).status_code == 403
