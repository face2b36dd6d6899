from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.technologies.choices import RadarRing, TechnologyStatus
from apps.technologies.models import Tag, Technology
from apps.technologies.tests.factories import TechnologyFactory
from commandcenter.metrics import technology_operations as counter

pytestmark = pytest.mark.django_db

EXPORT_URL = reverse("admin:technologies_technology_export")
IMPORT_URL = reverse("admin:technologies_technology_import")
PROCESS_URL = reverse("admin:technologies_technology_process_import")


def export(client, query: str, file_format: str) -> bytes:
    """What the browser does: the change list's Export link keeps its query string, then the
    form posts the chosen format to that same URL."""
    page = client.get(f"{EXPORT_URL}?{query}")
    assert page.status_code == 200
    choices = {label.lower(): value for value, label in page.context["form"].fields["format"].choices if value != ""}
    response = client.post(f"{EXPORT_URL}?{query}", {"format": choices[file_format]})
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    return response.content


def test_the_change_list_offers_import_and_export_keeping_its_filters(client, superuser):
    client.force_login(superuser)
    page = client.get(reverse("admin:technologies_technology_changelist"), {"status__exact": "evaluation"})
    html = page.content.decode()
    assert f'href="{EXPORT_URL}?status__exact=evaluation"' in html
    assert f"href='{IMPORT_URL}'" in html


def test_the_export_holds_exactly_the_filtered_rows_with_tags_by_name(client, superuser):
    client.force_login(superuser)
    TechnologyFactory.create(title="ChromaDB", status=TechnologyStatus.EVALUATION, tags=["rag", "vector-db"])
    TechnologyFactory.create(title="DuckDB", status=TechnologyStatus.EVALUATION)
    TechnologyFactory.create(title="Nomad", status=TechnologyStatus.ARCHIVED)
    rows = list(csv.DictReader(io.StringIO(export(client, "status__exact=evaluation", "csv").decode())))
    assert [row["title"] for row in rows] == ["ChromaDB", "DuckDB"]
    assert rows[0]["tags"] == "rag, vector-db"
    assert list(rows[0])[:4] == ["title", "vendor", "domain", "status"]


def test_the_export_follows_the_search_too_and_speaks_json(client, superuser):
    client.force_login(superuser)
    TechnologyFactory.create(title="Grafana")
    TechnologyFactory.create(title="Loki")
    data = json.loads(export(client, "q=graf", "json"))
    assert [row["title"] for row in data] == ["Grafana"]


def test_only_csv_and_json_are_offered(client, superuser):
    client.force_login(superuser)
    form = client.get(EXPORT_URL).context["form"]
    assert sorted(label for value, label in form.fields["format"].choices if value != "") == ["csv", "json"]


def test_the_export_needs_the_view_permission(client, make_user):
    client.force_login(make_user(is_staff=True))
    assert client.get(EXPORT_URL).status_code == 403


def upload(client, content: str):
    file = SimpleUploadedFile("technologies.csv", content.encode(), content_type="text/csv")
    return client.post(IMPORT_URL, {"import_file": file, "format": "0", "resource": "0"})


def technology_operations(operation: str, status: str) -> float:
    return counter.labels(operation=operation, status=status)._value.get()


HEADER = "title,vendor,domain,status,ring,relevance_score,priority,tags\n"


def test_an_import_is_previewed_first_and_writes_nothing(client, superuser):
    client.force_login(superuser)
    response = upload(client, HEADER + 'Valkey,Linux Foundation,data,research,assess,70,2,"cache, redis"\n')
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.has_errors()
    assert not result.has_validation_errors()
    assert result.totals["new"] == 1
    assert "Valkey" in response.content.decode()
    assert not Technology.objects.filter(title="Valkey").exists()
    assert not Tag.objects.filter(name="cache").exists()  # the preview was rolled back


def test_the_preview_reports_each_invalid_row_with_its_errors(client, superuser):
    client.force_login(superuser)
    response = upload(
        client,
        HEADER
        + "Good,V,data,research,assess,70,2,\n"
        + "Too relevant,V,data,research,assess,170,2,\n"
        + "Odd ring,V,data,research,somewhere,70,2,\n"
        + "Bad domain,V,cooking,research,assess,70,9,\n",
    )
    result = response.context["result"]
    assert result.has_validation_errors()
    invalid = {row.number: row.error_dict for row in result.invalid_rows}
    assert set(invalid) == {2, 3, 4}
    assert "relevance_score" in invalid[2]
    assert "ring" in invalid[3]
    assert {"domain", "priority"} <= set(invalid[4])
    page = response.content.decode()
    assert "Ensure this value is less than or equal to 100." in page
    assert "confirm_form" not in response.context  # nothing can be imported until the file is fixed
    assert not Technology.objects.exists()


def test_a_confirmed_import_creates_and_updates_through_the_services(client, superuser):
    client.force_login(superuser)
    existing = TechnologyFactory.create(title="Loki", ring=RadarRing.ASSESS, relevance_score=40)
    created_before = technology_operations("create", "success")
    updated_before = technology_operations("update", "success")
    preview = upload(
        client,
        HEADER
        + 'Valkey,Linux Foundation,data,research,assess,70,2,"Cache, redis"\n'
        + "Loki,Grafana Labs,devops,implementation,trial,75,2,logging\n",
    )
    confirm = preview.context["confirm_form"].initial
    response = client.post(PROCESS_URL, confirm, follow=True)
    assert response.status_code == 200
    valkey = Technology.objects.get(title="Valkey")
    assert valkey.slug == "valkey"
    assert sorted(valkey.tags.values_list("name", flat=True)) == ["cache", "redis"]
    existing.refresh_from_db()
    assert (existing.ring, existing.relevance_score) == (RadarRing.TRIAL, 75)
    assert technology_operations("create", "success") == created_before + 1
    assert technology_operations("update", "success") == updated_before + 1
    assert "Import finished" in response.content.decode()


def test_the_import_needs_the_add_permission(client, make_user):
    client.force_login(make_user("technologies.view_technology", is_staff=True))
    assert client.get(IMPORT_URL).status_code == 403
    client.force_login(make_user("technologies.view_technology", "technologies.add_technology", is_staff=True))
    form = client.get(IMPORT_URL).context["form"]
    assert [label for value, label in form.fields["format"].choices if value != ""] == ["csv"]


def test_a_csv_export_never_holds_a_formula(client, superuser):
    client.force_login(superuser)
    TechnologyFactory.create(title="Sneaky", description='=HYPERLINK("http://evil.example","x")', vendor="@vendor")
    TechnologyFactory.create(title="Plain", description="A - B")
    rows = {row["title"]: row for row in csv.DictReader(io.StringIO(export(client, "", "csv").decode()))}
    assert rows["Sneaky"]["description"] == '\'=HYPERLINK("http://evil.example","x")'
    assert rows["Sneaky"]["vendor"] == "'@vendor"
    assert rows["Plain"]["description"] == "A - B"
    data = {row["title"]: row for row in json.loads(export(client, "", "json"))}
    assert data["Sneaky"]["vendor"] == "@vendor"  # JSON is data, not a spreadsheet: unchanged
