from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib import admin
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone

from apps.backups.tests.factories import BackupRunFactory
from apps.dashboard.admin_site import CommandCenterAdminSite
from apps.jobs.choices import JobState
from apps.jobs.tests.factories import JobFactory
from apps.knowledge.tests.factories import DocumentFactory
from apps.repositories.choices import SyncStatus
from apps.repositories.tests.factories import RepositoryFactory
from apps.research.tests.factories import ResearchTaskFactory
from apps.technologies.choices import RadarRing, TechnologyStatus
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def populated():
    RepositoryFactory.create(owner="acme", name="broken", sync_status=SyncStatus.FAILED, sync_error="HTTP 404")
    technology = TechnologyFactory.create(title="ChromaDB", ring=RadarRing.TRIAL, domain="ai-ml", tags=["rag"])
    TechnologyFactory.create(title="Nomad", ring=RadarRing.HOLD, status=TechnologyStatus.ARCHIVED, tags=["ops"])
    ResearchTaskFactory.create(title="Late review", due_date=TODAY - dt.timedelta(days=2))
    ResearchTaskFactory.create(title="Soon review", due_date=TODAY + dt.timedelta(days=3))
    BackupRunFactory.create(hours_ago=3, size_bytes=42_000_000)
    JobFactory.create(state=JobState.FAILED, name="apps.research.tasks.run_research", error="LLM timeout")
    DocumentFactory.create(collection="runbooks")
    return technology


def test_the_admin_site_is_the_command_center_one():
    assert isinstance(admin.site, CommandCenterAdminSite)
    assert reverse("admin:technologies_radar") == "/admin/technologies/radar/"


def test_the_dashboard_shows_every_panel_to_a_superuser(client, superuser, populated):
    client.force_login(superuser)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    page = response.content.decode()
    for panel in (
        "cc-backups",
        "cc-health",
        "cc-jobs",
        "cc-sync-errors",
        "cc-repositories",
        "cc-technologies",
        "cc-research",
        "cc-overdue",
        "cc-due-soon",
        "cc-activity",
        "cc-radar",
        "cc-research-chart",
        "cc-documents-chart",
        "cc-backup-size-chart",
        "cc-backup-duration-chart",
    ):
        assert f'id="{panel}"' in page, panel
    assert "acme/broken" in page
    assert "HTTP 404" in page
    assert "Late review" in page
    assert "Soon review" in page
    assert "run_research" in page
    assert 'href="/admin/research/researchtask/?deadline=overdue"' in page
    assert 'href="/admin/technologies/technology/?ring__exact=trial"' in page
    assert f'href="/admin/technologies/technology/{populated.pk}/change/"' in page  # a radar dot
    assert 'action="/admin/backups/backuprun/backup-now/"' in page
    assert response.context["backups"].last_success.level == "ok"
    # The app list stays, beside the dashboard.
    assert 'href="/admin/technologies/technology/"' in page


def test_the_dashboard_renders_without_javascript_and_under_the_csp(client, superuser, populated):
    client.force_login(superuser)
    response = client.get(reverse("admin:index"))
    page = response.content.decode()
    # The pictures are inline SVG: nothing to fetch or run.
    assert page.count("<svg ") >= 5
    assert 'class="cc-radar"' in page
    # No inline script (the CSP's script-src is 'self' only): every <script> has a src.
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert "src=" in tag, tag
    assert not re.search(r"\son[a-z]+=", page)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "/static/dashboard/dashboard.css" in page


def test_a_user_sees_only_the_panels_of_the_models_they_may_view(client, make_user, populated):
    user = make_user("technologies.view_technology", is_staff=True)
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="cc-technologies"' in page
    assert 'id="cc-radar"' in page
    assert 'id="cc-health"' in page
    for hidden in ("cc-backups", "cc-jobs", "cc-sync-errors", "cc-research", "cc-documents-chart"):
        assert f'id="{hidden}"' not in page, hidden
    assert "acme/broken" not in page
    assert "Late review" not in page


def test_an_empty_database_still_renders_the_dashboard(client, superuser):
    client.force_login(superuser)
    page = client.get(reverse("admin:index")).content.decode()
    assert "No successful backup yet" in page
    assert "Nothing overdue." in page
    assert "No data yet." in page


def test_the_dashboard_needs_a_staff_login(client, make_user):
    assert client.get(reverse("admin:index"))["Location"].startswith("/admin/login/")
    client.force_login(make_user())
    assert client.get(reverse("admin:index"))["Location"].startswith("/admin/login/")


def test_the_radar_page_filters_by_tag_and_status(client, superuser, populated):
    client.force_login(superuser)
    url = reverse("admin:technologies_radar")
    everything = client.get(url)
    assert everything.status_code == 200
    assert everything.context["count"] == 2
    assert everything.content.decode().count('class="cc-blip"') == 2
    filtered = client.get(url, {"tags": "rag", "status": "evaluation"})
    page = filtered.content.decode()
    assert filtered.context["count"] == 1
    assert page.count('class="cc-blip"') == 1
    assert "ChromaDB" in page
    assert 'href="/api/v1/technologies/radar.svg?tags=rag&amp;status=evaluation"' in page
    assert 'option value="rag" selected' in page


def test_the_radar_page_reports_an_unknown_filter_value_and_shows_everything(client, superuser, populated):
    client.force_login(superuser)
    response = client.get(reverse("admin:technologies_radar"), {"status": "bogus"})
    assert response.status_code == 200
    assert response.context["count"] == 2
    assert "errornote" in response.content.decode()


def test_the_radar_page_needs_the_view_permission(client, make_user):
    client.force_login(make_user(is_staff=True))
    assert client.get(reverse("admin:technologies_radar")).status_code == 403
    client.force_login(make_user("technologies.view_technology", is_staff=True))
    assert client.get(reverse("admin:technologies_radar")).status_code == 200


def test_the_technology_change_list_links_the_radar(client, superuser):
    client.force_login(superuser)
    page = client.get(reverse("admin:technologies_technology_changelist")).content.decode()
    assert 'href="/admin/technologies/radar/"' in page


def test_every_admin_page_has_the_favicon_and_the_shared_stylesheet(client, superuser):
    client.force_login(superuser)
    page = client.get(reverse("admin:backups_backuprun_changelist")).content.decode()
    assert 'rel="icon" href="/static/dashboard/favicon.svg"' in page
    assert "/static/dashboard/admin.css" in page
    assert finders.find("dashboard/favicon.svg")


def test_favicon_ico_leads_to_the_svg_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/dashboard/favicon.svg"
