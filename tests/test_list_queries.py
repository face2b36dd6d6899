"""The number of SQL queries of every list endpoint does not grow with the page size."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.jobs.models import Job
from apps.repositories.tests.factories import RepositoryFactory
from apps.research.models import ResearchTaskAttachment
from apps.research.tests.factories import ResearchTaskFactory
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(superuser, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    repos = RepositoryFactory.create_batch(30)
    for n in range(30):
        tech = TechnologyFactory.create(tags=[f"t{n % 4}", "common"], repositories=repos[: n % 3])
        task = ResearchTaskFactory.create(
            technology=tech, repository=repos[n], assignee=superuser, due_date=dt.date(2026, 1, 1 + n % 28)
        )
        ResearchTaskAttachment.objects.create(task=task, file=ContentFile(b"x", name=f"a{n}.txt"))
        Job.objects.create(task_id=f"job-{n}", name="apps.jobs.tasks.ping", args=[n])


def queries_for(api, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    "path", ["/api/v1/repositories/", "/api/v1/technologies/", "/api/v1/research-tasks/", "/api/v1/jobs/"]
)
def test_list_queries_are_constant(api, data, path):
    api.get(path)  # the key's first use writes last_used_at once
    small = queries_for(api, f"{path}?page_size=3")
    large = queries_for(api, f"{path}?page_size=30")
    assert small == large, f"{path}: {small} queries for 3 rows, {large} for 30"
    assert large <= 6
