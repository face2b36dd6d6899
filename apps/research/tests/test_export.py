from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.research.choices import ResearchTaskStatus
from apps.research.tests.factories import ResearchTaskFactory
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db

EXPORT_URL = reverse("admin:research_researchtask_export")


def export_csv(client, query: str) -> list[dict[str, str]]:
    page = client.get(f"{EXPORT_URL}?{query}")
    choices = {label: value for value, label in page.context["form"].fields["format"].choices if value != ""}
    response = client.post(f"{EXPORT_URL}?{query}", {"format": choices["csv"]})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_export_of_the_overdue_filter_holds_the_overdue_tasks_only(client, superuser):
    client.force_login(superuser)
    today = timezone.localdate()
    chroma = TechnologyFactory.create(title="ChromaDB")
    ResearchTaskFactory.create(title="Late", technology=chroma, due_date=today - dt.timedelta(days=3))
    ResearchTaskFactory.create(
        title="Done late", status=ResearchTaskStatus.COMPLETED, due_date=today - dt.timedelta(days=3)
    )
    ResearchTaskFactory.create(title="Later", due_date=today + dt.timedelta(days=3))
    rows = export_csv(client, "deadline=overdue")
    assert [row["title"] for row in rows] == ["Late"]
    assert rows[0]["technology"] == "ChromaDB"
    assert rows[0]["status"] == "pending"


def test_the_export_names_related_objects(client, superuser):
    client.force_login(superuser)
    ResearchTaskFactory.create(title="Assigned", assignee=superuser)
    (row,) = export_csv(client, "")
    assert row["assignee"] == superuser.get_username()
    assert row["repository"] == ""
