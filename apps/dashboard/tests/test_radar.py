from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from itertools import combinations

import pytest

from apps.dashboard import radar
from apps.dashboard.radar import Blip
from apps.dashboard.svg import SVG_NS
from apps.technologies.choices import RadarRing, TechnologyDomain

NS = {"svg": SVG_NS}


def title_of(element: ET.Element) -> str:
    title = element.find("svg:title", NS)
    assert title is not None
    return title.text or ""


def child(element: ET.Element, path: str) -> ET.Element:
    found = element.find(path, NS)
    assert found is not None
    return found


def blips(count: int, *, domain: str = "backend", ring: str = "adopt", start: int = 1) -> list[Blip]:
    return [
        Blip(id=i, title=f"Tech {i:03d}", domain=domain, ring=ring, status="Evaluation", url=f"/t/{i}/")
        for i in range(start, start + count)
    ]


def polar(item: radar.PlacedBlip) -> tuple[float, float]:
    dx, dy = item.x - radar.CENTRE, radar.CENTRE - item.y
    return math.hypot(dx, dy), math.degrees(math.atan2(dy, dx)) % 360


def test_every_domain_belongs_to_exactly_one_quadrant():
    grouped = [domain for quadrant in radar.QUADRANTS for domain in quadrant.domains]
    assert sorted(grouped) == sorted(TechnologyDomain.values)
    assert len({q.start for q in radar.QUADRANTS}) == 4
    assert radar.quadrant_of("not-a-domain").name == radar.quadrant_of("other").name


@pytest.mark.parametrize("ring", RadarRing.values)
@pytest.mark.parametrize("quadrant", radar.QUADRANTS, ids=lambda q: q.name)
def test_dots_stay_inside_their_quadrant_and_ring(quadrant, ring):
    inner, outer = radar.RING_BANDS[ring]
    placed = radar.place(blips(7, domain=quadrant.domains[0], ring=ring))
    assert len(placed) == 7
    for item in placed:
        radius, angle = polar(item)
        assert inner * radar.RADIUS <= radius <= outer * radar.RADIUS
        assert quadrant.start < angle < quadrant.start + 90


def test_dots_of_a_crowded_cell_do_not_overlap():
    placed = radar.place(blips(12, ring="adopt") + blips(20, ring="trial", start=100))
    for a, b in combinations(placed, 2):
        assert math.hypot(a.x - b.x, a.y - b.y) >= 2 * radar.DOT


def test_placement_is_deterministic_and_numbered_in_reading_order():
    mixed = [
        *blips(2, domain="devops", ring="hold"),
        *blips(2, domain="backend", ring="trial", start=10),
        *blips(1, domain="ai-ml", ring="adopt", start=20),
    ]
    first = radar.place(mixed)
    again = radar.place(list(reversed(mixed)))
    assert [(p.number, p.blip.id, p.x, p.y) for p in first] == [(p.number, p.blip.id, p.x, p.y) for p in again]
    # Languages & frameworks (top left) first, then AI & data, then tools (bottom right).
    assert [p.blip.id for p in first] == [10, 11, 20, 1, 2]
    assert [p.number for p in first] == [1, 2, 3, 4, 5]


def test_the_radar_links_every_dot_with_its_title_on_hover():
    markup = radar.render_radar(
        [
            Blip(1, "Django", "backend", "adopt", "Integrated", "/admin/technologies/technology/1/change/"),
            Blip(2, "Qdrant", "ai-ml", "assess", "Discovery", "/admin/technologies/technology/2/change/"),
        ]
    )
    root = ET.fromstring(markup)  # noqa: S314  (our own output)
    dots = root.findall("svg:a[@class='cc-blip']", NS)
    assert [dot.get("href") for dot in dots] == [
        "/admin/technologies/technology/1/change/",
        "/admin/technologies/technology/2/change/",
    ]
    assert title_of(dots[0]) == "1. Django — Adopt, Integrated (Backend)"
    assert dots[1].find("svg:circle", NS) is not None
    assert child(dots[1], "svg:text").text == "2"
    legend = root.findall("svg:a[@class='cc-blip-legend']", NS)
    assert [child(entry, "svg:text").text for entry in legend] == ["1. Django", "2. Qdrant"]
    assert root.get("aria-label") == "Technology radar: 2 technologies placed"


def test_titles_and_links_are_escaped():
    markup = radar.render_radar([Blip(1, "<b>&Co</b>", "backend", "trial", "Research", '/x/?a="1"&b=2')])
    assert "<b>" not in markup
    assert "&lt;b&gt;&amp;Co&lt;/b&gt;" in markup
    root = ET.fromstring(markup)  # noqa: S314  (our own output)
    assert child(root, "svg:a").get("href") == '/x/?a="1"&b=2'


def test_technologies_without_a_ring_are_counted_not_drawn():
    markup = radar.render_radar(blips(2, ring="") + blips(1, start=5))
    root = ET.fromstring(markup)  # noqa: S314  (our own output)
    assert len(root.findall("svg:a[@class='cc-blip']", NS)) == 1
    assert "Not placed yet (no ring): 2" in markup


def test_an_empty_radar_says_nothing_matches():
    markup = radar.render_radar([])
    assert "No technology matches." in markup
    assert "<a " not in markup


def test_a_long_legend_flows_into_more_columns():
    one_column = ET.fromstring(radar.render_radar(blips(10)))  # noqa: S314
    three_columns = ET.fromstring(radar.render_radar(blips(100, ring="hold")))  # noqa: S314
    assert int(three_columns.get("width", 0)) > int(one_column.get("width", 0)) + radar.LEGEND_COLUMN
    assert three_columns.get("height") == one_column.get("height")
