from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from apps.repositories.tests.factories import RepositoryFactory
from apps.technologies.models import Technology
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/technologies/"


def counter(operation: str) -> float:
    value = REGISTRY.get_sample_value(
        "commandcenter_technology_operations_total", {"operation": operation, "status": "success"}
    )
    return value or 0.0


def test_it_creates_with_tags_and_repositories(api):
    repo = RepositoryFactory.create()
    before = counter("create")
    response = api.post(
        URL,
        {
            "title": "ChromaDB",
            "domain": "ai-ml",
            "ring": "trial",
            "relevance_score": 80,
            "tags": ["Vector-DB", "rag", "vector-db", "  RAG "],
            "repositories": [repo.pk],
            "website_url": "https://www.trychroma.com",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "chromadb"
    assert body["tags"] == ["rag", "vector-db"]
    assert body["repositories"] == [repo.pk]
    assert counter("create") == before + 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "A", "relevance_score": 150}, "relevance_score"),
        ({"title": "A", "relevance_score": -1}, "relevance_score"),
        ({"title": "A", "priority": 9}, "priority"),
        ({"title": "A", "status": "unknown"}, "status"),
        ({"title": "A", "domain": "cooking"}, "domain"),
        ({"title": "A", "ring": "maybe"}, "ring"),
        ({"title": "A", "website_url": "not a url"}, "website_url"),
        ({"title": "A", "repositories": [999999]}, "repositories"),
        ({"title": "A", "tags": "not-a-list"}, "tags"),
        ({"title": "A", "tags": ["x" * 51]}, "tags"),
        ({"title": ""}, "title"),
        ({"relevance_score": "abc"}, "relevance_score"),
    ],
)
def test_bad_values_are_400_with_field_errors(api, payload, field):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Technology.objects.exists()


def test_titles_are_unique(api):
    TechnologyFactory.create(title="Redis")
    response = api.post(URL, {"title": "Redis"})
    assert response.status_code == 400
    assert "title" in response.json()


def test_update_replaces_tags_and_delete_is_counted(api):
    tech = TechnologyFactory.create(tags=["a", "b"])
    response = api.patch(f"{URL}{tech.pk}/", {"tags": ["c"]}, format="json")
    assert response.status_code == 200
    assert response.json()["tags"] == ["c"]
    before = counter("delete")
    assert api.delete(f"{URL}{tech.pk}/").status_code == 204
    assert counter("delete") == before + 1


def test_filters(api):
    repo = RepositoryFactory.create()
    TechnologyFactory.create(title="A", domain="ai-ml", status="evaluation", ring="trial", priority=1, tags=["python"])
    TechnologyFactory.create(
        title="B", domain="data", status="integrated", ring="adopt", relevance_score=90, repositories=[repo]
    )
    TechnologyFactory.create(title="C", domain="data", status="archived", ring="hold", tags=["go", "python"])

    def titles(query: str) -> list[str]:
        response = api.get(f"{URL}?{query}")
        assert response.status_code == 200, response.json()
        return [t["title"] for t in response.json()["results"]]

    assert titles("domain=data") == ["B", "C"]
    assert titles("status=integrated&status=archived") == ["B", "C"]
    assert titles("ring=trial") == ["A"]
    assert titles("priority=1") == ["A"]
    assert titles("tags=python") == ["A", "C"]
    assert titles("tags=go,nothing") == ["C"]
    assert titles("relevance_min=85") == ["B"]
    assert titles(f"repository={repo.pk}") == ["B"]
    assert titles("search=python") == ["A", "C"]
    assert titles("ordering=-relevance_score,title")[0] == "B"


@pytest.mark.parametrize(
    "query", ["status=unknown", "domain=x", "ordering=secret", "priority=abc", "relevance_min=x", "repository=x"]
)
def test_bad_filters_are_400(api, query):
    assert api.get(f"{URL}?{query}").status_code == 400


def test_radar_groups_by_domain_and_ring(api):
    TechnologyFactory.create(title="Django", domain="backend", ring="adopt")
    TechnologyFactory.create(title="HTMX", domain="frontend", ring="")
    TechnologyFactory.create(title="Old", domain="backend", ring="hold", status="archived")
    response = api.get(f"{URL}radar/")
    assert response.status_code == 200
    by_domain = {d["domain"]: d for d in response.json()}
    assert [t["title"] for t in by_domain["backend"]["rings"]["adopt"]] == ["Django"]
    assert [t["title"] for t in by_domain["frontend"]["rings"]["unplaced"]] == ["HTMX"]
    assert by_domain["backend"]["count"] == 2
    assert by_domain["backend"]["label"] == "Backend"
    filtered = {d["domain"]: d for d in api.get(f"{URL}radar/?status=archived").json()}
    assert filtered["backend"]["count"] == 1


def list_queries(api, page_size: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"{URL}?page_size={page_size}")
    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size
    return len(queries.captured_queries)


def test_list_queries_do_not_grow_with_the_page_size(api):
    repos = RepositoryFactory.create_batch(3)
    for n in range(100):
        TechnologyFactory.create(tags=[f"t{n % 7}", f"u{n % 5}"], repositories=repos[: n % 3])
    api.get(URL)  # the first request records the key's last use
    assert list_queries(api, 10) == list_queries(api, 100)


def test_the_list_renders_exactly_like_the_serializer(api):
    repos = [
        RepositoryFactory.create(owner="zeta", name="z"),
        RepositoryFactory.create(owner="alpha", name="a", access_token="ghp_not_loaded"),
    ]
    TechnologyFactory.create(title="With all", tags=["zz", "aa", "mm"], repositories=repos, ring="")
    TechnologyFactory.create(title="Bare", documentation_url="https://docs.example.com/x")
    listed = api.get(URL).json()["results"]
    assert [item["title"] for item in listed] == ["Bare", "With all"]
    for item in listed:
        assert api.get(f"{URL}{item['id']}/").json() == item
    assert listed[1]["tags"] == ["aa", "mm", "zz"]
    assert listed[1]["repositories"] == [repos[1].pk, repos[0].pk]  # by full_name, as the model orders
