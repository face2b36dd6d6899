import pytest

from apps.technologies.tests.factories import TechnologyFactory

pytestmark = pytest.mark.django_db


def test_pages_carry_count_and_cap_the_page_size(api):
    TechnologyFactory.create_batch(3)
    body = api.get("/api/v1/technologies/?page_size=2").json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"]
    assert len(api.get("/api/v1/technologies/?page_size=1000").json()["results"]) == 3


@pytest.mark.parametrize("size", ["abc", "0", "-5"])
def test_bad_page_sizes_are_400(api, size):
    response = api.get(f"/api/v1/technologies/?page_size={size}")
    assert response.status_code == 400
    assert "page_size" in response.json()


def test_a_page_past_the_end_is_404(api):
    assert api.get("/api/v1/technologies/?page=99").status_code == 404
