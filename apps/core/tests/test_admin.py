"""Every admin page renders, and the bulk actions do what they say."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from apps.core.models import APIKey
from apps.core.services import authenticate_key
from apps.repositories.tests.factories import RepositoryFactory
from apps.research.models import ResearchTask
from apps.research.tests.factories import ResearchTaskFactory
from apps.technologies.models import Technology
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture(autouse=True)
def admin_modules() -> None:
    """The admin modules are imported with the URLconf (apps/dashboard/admin_site.py)."""
    admin.autodiscover()


def test_the_admin_modules_load_with_the_urlconf_and_the_admin_check_sees_them():
    from apps.dashboard.admin_site import check_registered_admins

    assert check_registered_admins(app_configs=None) == []
    assert len(admin.site._registry) > 15
    assert Technology in admin.site._registry


def test_every_registered_model_has_working_pages(staff_client):
    repo = RepositoryFactory.create()
    tech = TechnologyFactory.create(tags=["python"], repositories=[repo])
    ResearchTaskFactory.create(technology=tech, repository=repo, due_date=timezone.localdate() - dt.timedelta(days=2))
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        response = staff_client.get(changelist)
        assert response.status_code == 200, changelist
        if model_admin.search_fields:
            assert staff_client.get(changelist, {"q": "x"}).status_code == 200
        if model_admin.has_add_permission(response.wsgi_request):
            assert staff_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_add")).status_code == 200
        obj = model._default_manager.first()
        if obj is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            assert staff_client.get(change).status_code == 200, change


def test_domain_admins_have_filters_and_search():
    for model in (Technology, ResearchTask, RepositoryFactory._meta.model, APIKey):
        model_admin = admin.site._registry[model]
        assert model_admin.list_display
        assert model_admin.list_filter
        assert model_admin.search_fields


def test_overdue_tasks_are_highlighted(staff_client):
    ResearchTaskFactory.create(title="Late one", due_date=timezone.localdate() - dt.timedelta(days=3))
    response = staff_client.get(reverse("admin:research_researchtask_changelist"))
    assert "overdue" in response.content.decode()
    filtered = staff_client.get(reverse("admin:research_researchtask_changelist"), {"deadline": "overdue"})
    assert "Late one" in filtered.content.decode()


def test_mark_completed_action(staff_client):
    tasks = ResearchTaskFactory.create_batch(2)
    response = staff_client.post(
        reverse("admin:research_researchtask_changelist"),
        {"action": "mark_completed", "_selected_action": [t.pk for t in tasks]},
        follow=True,
    )
    assert response.status_code == 200
    assert ResearchTask.objects.filter(status="completed", completed_at__isnull=False).count() == 2


def test_set_status_action(staff_client):
    task = ResearchTaskFactory.create(status="completed")
    staff_client.post(
        reverse("admin:research_researchtask_changelist"),
        {"action": "set_status_blocked", "_selected_action": [task.pk]},
    )
    task.refresh_from_db()
    assert task.status == "blocked"
    assert task.completed_at is None


def test_technology_ring_action(staff_client):
    tech = TechnologyFactory.create(ring="trial")
    staff_client.post(
        reverse("admin:technologies_technology_changelist"),
        {"action": "set_ring_adopt", "_selected_action": [tech.pk]},
    )
    tech.refresh_from_db()
    assert tech.ring == "adopt"


def test_creating_an_api_key_in_the_admin_shows_it_once(staff_client, superuser):
    response = staff_client.post(
        reverse("admin:core_apikey_add"),
        {"user": superuser.pk, "name": "grafana", "read_only": "on", "expires_in_days": "30"},
        follow=True,
    )
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    key = next(m for m in messages if "cc_" in m).split(": ")[-1]
    api_key = authenticate_key(key)
    assert api_key is not None
    assert api_key.read_only
    assert api_key.name == "grafana"


def test_revoking_keys_in_the_admin(staff_client, superuser):
    from apps.core.services import issue_api_key

    issued = issue_api_key(superuser)
    staff_client.post(
        reverse("admin:core_apikey_changelist"), {"action": "revoke", "_selected_action": [issued.api_key.pk]}
    )
    assert authenticate_key(issued.key) is None


def test_repository_token_is_never_rendered_and_kept_when_blank(staff_client):
    repo = RepositoryFactory.create(access_token="ghp_keep_me")
    url = reverse("admin:repositories_repository_change", args=[repo.pk])
    page = staff_client.get(url).content.decode()
    assert "ghp_keep_me" not in page
    form = {
        "owner": repo.owner,
        "name": repo.name,
        "default_branch": "main",
        "stars": 1,
        "forks": 0,
        "open_issues": 0,
        "topics": "[]",
        "metadata": "{}",
        "access_token": "",
        "research_tasks-TOTAL_FORMS": 0,
        "research_tasks-INITIAL_FORMS": 0,
    }
    response = staff_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    repo.refresh_from_db()
    assert repo.access_token == "ghp_keep_me"
    assert repo.stars == 1


def test_start_up_leaves_the_admin_modules_to_the_urlconf():
    """Operational commands and workers never serve the admin: a process that only sets
    Django up imports no admin module (nor django-import-export)."""
    import subprocess
    import sys

    from django.conf import settings

    code = (
        "import sys, django; django.setup(); "
        "print(sorted(m for m in sys.modules if m.endswith('.admin') and m.startswith('apps.') "
        "or m.startswith('import_export.admin')))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=settings.BASE_DIR, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
