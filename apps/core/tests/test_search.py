from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.technologies.models import Tag
from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/technologies/"


def titles(api, search: str) -> list[str]:
    response = api.get(URL, {"search": search, "page_size": 100})
    assert response.status_code == 200
    return sorted(item["title"] for item in response.json()["results"])


@pytest.fixture
def catalogue():
    rust, python, web = (Tag.objects.create(name=n) for n in ("rust-lang", "rusty-tools", "web"))
    ruff = TechnologyFactory.create(title="Ruff", description="A linter.")
    ruff.tags.add(rust, python)  # two tags matching "rust": still listed once
    TechnologyFactory.create(title="Trust store", description="Certificates.").tags.add(web)
    TechnologyFactory.create(title="Django", description="Web framework in Python.").tags.add(web)


def test_a_term_matches_text_fields_or_tag_names_each_row_once(api, catalogue):
    assert titles(api, "rust") == ["Ruff", "Trust store"]
    assert titles(api, "web") == ["Django", "Trust store"]


def test_every_term_must_match(api, catalogue):
    assert titles(api, "web python") == ["Django"]
    assert titles(api, "rust web") == ["Trust store"]


def test_the_to_many_lookup_is_one_subquery_not_a_correlated_exists(api, catalogue):
    with CaptureQueriesContext(connection) as captured:
        api.get(URL, {"search": "rust"})
    searches = [q["sql"] for q in captured.captured_queries if "technologies_tag" in q["sql"] and "LIKE" in q["sql"]]
    assert searches
    assert all(" IN (SELECT" in sql and "EXISTS" not in sql for sql in searches)
