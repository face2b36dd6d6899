from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone

from apps.research.models import ResearchTask
from apps.research.tests.factories import ResearchTaskFactory
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/research-tasks/"
TODAY = timezone.localdate()


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_create_with_links_and_assignee(api, superuser):
    tech = TechnologyFactory.create()
    response = api.post(
        URL,
        {
            "title": "Benchmark Chroma",
            "technology": tech.pk,
            "assignee": superuser.pk,
            "due_date": str(TODAY + dt.timedelta(days=3)),
            "estimated_hours": "6.5",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["assignee_username"] == superuser.username
    assert body["status"] == "pending"
    assert body["is_overdue"] is False


def test_completing_sets_completed_at_and_reopening_clears_it(api):
    task = ResearchTaskFactory.create()
    body = api.patch(f"{URL}{task.pk}/", {"status": "completed"}).json()
    assert body["completed_at"] is not None
    assert body["progress"] == 100
    assert api.patch(f"{URL}{task.pk}/", {"status": "in_progress"}).json()["completed_at"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "x", "progress": 101}, "progress"),
        ({"title": "x", "status": "done"}, "status"),
        ({"title": "x", "technology": 424242}, "technology"),
        ({"title": "x", "assignee": 424242}, "assignee"),
        ({"title": "x", "due_date": "31/12/2026"}, "due_date"),
        ({"title": "x", "estimated_hours": "-1"}, "estimated_hours"),
        ({"title": "x", "completed_at": "2026-01-01T00:00:00Z", "metadata": "nope"}, "metadata"),
    ],
)
def test_bad_values_are_400(api, payload, field):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not ResearchTask.objects.exists()


def test_filters(api, superuser):
    tech = TechnologyFactory.create()
    # Fixed descriptions: a random sentence could contain the search term.
    late = ResearchTaskFactory.create(
        title="late", description="", due_date=TODAY - dt.timedelta(days=1), technology=tech
    )
    ResearchTaskFactory.create(title="soon", description="", due_date=TODAY + dt.timedelta(days=2), assignee=superuser)
    ResearchTaskFactory.create(title="done", description="", due_date=TODAY - dt.timedelta(days=9), status="completed")

    def titles(query: str) -> list[str]:
        response = api.get(f"{URL}?{query}")
        assert response.status_code == 200, response.json()
        return sorted(t["title"] for t in response.json()["results"])

    assert titles("overdue=true") == ["late"]
    assert titles("overdue=false") == ["done", "soon"]
    assert titles(f"due_before={TODAY}") == ["done", "late"]
    assert titles(f"due_after={TODAY}") == ["soon"]
    assert titles("status=completed") == ["done"]
    assert titles(f"technology={tech.pk}") == ["late"]
    assert titles(f"assignee={superuser.pk}") == ["soon"]
    assert titles("search=soo") == ["soon"]
    assert api.get(f"{URL}?ordering=due_date").json()["results"][0]["id"] != late.pk
    for bad in ("due_before=yesterday", "overdue=maybe", "assignee=999999", "status=x", "ordering=nope"):
        assert api.get(f"{URL}?{bad}").status_code == 400, bad


def test_statistics_endpoint(api):
    ResearchTaskFactory.create(due_date=TODAY - dt.timedelta(days=1))
    ResearchTaskFactory.create(status="blocked", due_date=TODAY + dt.timedelta(days=1))
    body = api.get(f"{URL}statistics/").json()
    assert body["total"] == 2
    assert body["by_status"]["blocked"] == 1
    assert body["overdue"] == 1
    assert body["due_in_7_days"] == 1
    assert api.get(f"{URL}statistics/?status=blocked").json()["total"] == 1


def test_attachments_upload(api):
    task = ResearchTaskFactory.create()
    upload = SimpleUploadedFile("notes.md", b"# Findings\n", content_type="text/markdown")
    response = api.post(f"{URL}{task.pk}/attachments/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json()["name"] == "notes.md"
    assert response.json()["size"] == 11
    detail = api.get(f"{URL}{task.pk}/").json()
    assert [a["name"] for a in detail["attachments"]] == ["notes.md"]


def test_attaching_needs_the_change_permission(make_user, client_for):
    task = ResearchTaskFactory.create()
    url = f"{URL}{task.pk}/attachments/"
    adder = client_for(make_user("research.view_researchtask", "research.add_researchtask"))
    upload = SimpleUploadedFile("a.txt", b"a")
    assert adder.post(url, {"file": upload}, format="multipart").status_code == 403
    changer = client_for(make_user("research.view_researchtask", "research.change_researchtask"))
    upload = SimpleUploadedFile("a.txt", b"a")
    assert changer.post(url, {"file": upload}, format="multipart").status_code == 201


@override_settings(ATTACHMENT_MAX_UPLOAD_MB=0)
def test_attachments_over_the_limit_are_400(api):
    task = ResearchTaskFactory.create()
    upload = SimpleUploadedFile("big.txt", b"x" * 10)
    response = api.post(f"{URL}{task.pk}/attachments/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert "too large" in response.json()["file"][0]
    assert not task.attachments.exists()


def test_attachments_download_through_the_api_only(api, client_for, make_user):
    task = ResearchTaskFactory.create()
    upload = SimpleUploadedFile("report.md", b"# Report\n", content_type="text/markdown")
    created = api.post(f"{URL}{task.pk}/attachments/", {"file": upload}, format="multipart").json()
    assert "file" not in created
    response = api.get(created["download"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"# Report\n"
    assert 'filename="report.md"' in response["Content-Disposition"]
    assert api.get(f"{URL}{task.pk}/attachments/999999/").status_code == 404
    other = ResearchTaskFactory.create()
    assert api.get(f"{URL}{other.pk}/attachments/{created['id']}/").status_code == 404
    assert client_for(make_user()).get(created["download"]).status_code == 403


@pytest.mark.parametrize("name", ["payload.exe", "script.sh", "noextension", ".hidden"])
def test_attachments_of_other_types_are_400_naming_the_allowed_ones(api, name):
    task = ResearchTaskFactory.create()
    upload = SimpleUploadedFile(name, b"content", content_type="application/octet-stream")
    response = api.post(f"{URL}{task.pk}/attachments/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert "is not accepted; allowed: .pdf, .md" in response.json()["file"][0]
    assert not task.attachments.exists()


def test_the_allowed_types_come_from_the_setting(api, settings):
    settings.ATTACHMENT_ALLOWED_EXTENSIONS = ["pcap"]
    task = ResearchTaskFactory.create()
    upload = SimpleUploadedFile("Capture.PCAP", b"\xd4\xc3\xb2\xa1", content_type="application/octet-stream")
    assert api.post(f"{URL}{task.pk}/attachments/", {"file": upload}, format="multipart").status_code == 201
    notes = SimpleUploadedFile("notes.md", b"# notes", content_type="text/markdown")
    assert api.post(f"{URL}{task.pk}/attachments/", {"file": notes}, format="multipart").status_code == 400
