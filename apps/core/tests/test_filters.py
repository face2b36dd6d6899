import pytest

from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db


def test_unfiltered_lists_skip_the_filterset_but_filtered_ones_validate(api):
    TechnologyFactory.create(title="A", priority=1)
    TechnologyFactory.create(title="B", priority=2)
    assert api.get("/api/v1/technologies/?unrelated=1").json()["count"] == 2
    assert api.get("/api/v1/technologies/?priority=2").json()["count"] == 1
    assert api.get("/api/v1/technologies/?priority=x").status_code == 400
    assert api.get("/api/v1/technologies/?ordering=-priority").json()["results"][0]["title"] == "B"


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE"])
def test_strict_booleans_accept_the_usual_spellings(api, value):
    assert api.get(f"/api/v1/repositories/?is_private={value}").status_code == 200


def test_strict_booleans_refuse_anything_else(api):
    response = api.get("/api/v1/repositories/?is_private=maybe")
    assert response.status_code == 400
    assert response.json() == {"is_private": ["Enter true or false."]}
