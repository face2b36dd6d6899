"""SQL and LIKE wildcards in ``search=`` and in filters are matched literally: ``%`` finds
the rows holding a percent sign, not every row; quotes and SQL are only text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from apps.jobs.models import Job
from apps.jobs.tests.factories import JobFactory
from apps.knowledge.tests.factories import DocumentFactory
from apps.repositories.models import Repository
from apps.repositories.tests.factories import RepositoryFactory
from apps.research.tests.factories import ResearchTaskFactory
from apps.technologies.models import Technology
from apps.technologies.tests.factories import TechnologyFactory
from tests.hostile.conftest import World

pytestmark = pytest.mark.hostile

# One stored text per special character, and one without any.
TEXTS = {
    "percent": "Uses 100% of the budget",
    "underscore": "snake_case naming",
    "quote": "O'Reilly handbook",
    "backslash": "Lives in C:\\Tools",
    "plain": "Plain words only",
}
# Search term -> the texts it must find (matched literally, case-insensitively).
SEARCHES = {
    "%": {"percent"},
    "_": {"underscore"},
    "'": {"quote"},
    "\\": {"backslash"},
    "100%": {"percent"},
    "e_c": {"underscore"},
    "%%": set(),
    "_%_": set(),
    "'; DROP TABLE repositories_repository; --": set(),
    "' OR '1'='1": set(),
    "''": set(),
    '"': set(),
    "\\%": set(),
    "[a-z]*": set(),
}

Make = Callable[[str, str], Any]
ENDPOINTS: dict[str, Make] = {
    "/api/v1/repositories/": lambda key, text: RepositoryFactory.create(name=f"hostile-{key}", description=text),
    "/api/v1/technologies/": lambda key, text: TechnologyFactory.create(title=f"Hostile {key}", description=text),
    "/api/v1/research-tasks/": lambda key, text: ResearchTaskFactory.create(title=f"Hostile {key}", notes=text),
    "/api/v1/knowledge/documents/": lambda key, text: DocumentFactory.create(title=text),
}


@pytest.fixture
def stored(world: World) -> dict[str, dict[int, str]]:
    """Per endpoint: the id of each row holding one of TEXTS, by name."""
    return {path: {make(key, text).pk: key for key, text in TEXTS.items()} for path, make in ENDPOINTS.items()}


def _client(world: World) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.key}")
    return client


def _found(world: World, path: str, params: dict[str, str], key: str = "id") -> list[Any]:
    response = _client(world).get(f"{path}?{urlencode({**params, 'page_size': 100})}")
    assert response.status_code == 200, response.content
    return [row[key] for row in response.json()["results"]]


@pytest.mark.parametrize("term", list(SEARCHES), ids=[repr(t) for t in SEARCHES])
@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_search_matches_wildcards_literally(world: World, stored: dict[str, dict[int, str]], path: str, term: str):
    found = _found(world, path, {"search": term})
    names = {stored[path][pk] for pk in found if pk in stored[path]}
    assert names == SEARCHES[term]
    # Only the rows holding the term: none of the objects every test has, nor the others.
    assert set(found) <= set(stored[path])
    assert Repository.objects.exists()  # the table is still there


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"owner": "%"}, set()),
        ({"owner": "org_"}, set()),
        ({"owner": "hostile_%"}, {"hostile_%"}),
        ({"language": "_ython"}, set()),
        ({"language": "' OR 1=1 --"}, set()),
    ],
    ids=["owner-percent", "owner-underscore", "owner-literal-percent", "language-underscore", "language-sql"],
)
def test_repository_filters_match_wildcards_literally(world: World, params: dict[str, str], expected: set[str]):
    literal = RepositoryFactory.create(owner="hostile_%", name="literal")
    found = _found(world, "/api/v1/repositories/", params)
    assert {Repository.objects.get(pk=pk).owner for pk in found} == expected
    assert (literal.pk in found) == bool(expected)


@pytest.mark.parametrize(("vendor", "expected"), [("%", 0), ("Vendor _", 0), ("100%", 1), ("100_", 0)])
def test_technology_vendor_filter_matches_wildcards_literally(world: World, vendor: str, expected: int):
    TechnologyFactory.create(title="Literal vendor", vendor="100%")
    found = _found(world, "/api/v1/technologies/", {"vendor": vendor})
    assert len(found) == expected
    assert all(Technology.objects.get(pk=pk).vendor == vendor for pk in found)


@pytest.mark.parametrize(("term", "expected"), [("%", 1), ("_", 2), ("'", 0), ("run%backup", 0)])
def test_job_name_filter_and_search_match_wildcards_literally(world: World, term: str, expected: int):
    # The world's job is "apps.backups.tasks.run_backup" (it holds "_"); this one holds "%".
    JobFactory.create(name="apps.jobs.tasks.100%_done")
    for params in ({"name": term}, {"search": term}):
        found = _found(world, "/api/v1/jobs/", params, key="job_id")
        assert len(found) == expected
        assert all(term in Job.objects.get(task_id=task_id).name for task_id in found)
