from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import pairwise

import pytest

from apps.dashboard import svg
from apps.dashboard.svg import Series

NS = {"svg": svg.SVG_NS}


def title_of(element: ET.Element) -> str:
    """The text of the element's ``<title>`` (its tooltip)."""
    title = element.find("svg:title", NS)
    assert title is not None
    return title.text or ""


def attribute(element: ET.Element, name: str) -> str:
    value = element.get(name)
    assert value is not None
    return value


def parse(markup: str) -> ET.Element:
    """Well-formed XML in the SVG namespace, or the test fails."""
    root = ET.fromstring(markup)  # noqa: S314  (our own output)
    assert root.tag == f"{{{svg.SVG_NS}}}svg"
    return root


def test_it_formats_numbers_with_at_most_one_decimal():
    assert svg.number(3.0) == "3"
    assert svg.number(2.25) == "2.2"
    assert svg.number(12.57) == "12.6"
    assert svg.number(0) == "0"


def test_it_escapes_text_and_attribute_values():
    markup = svg.element("a", svg.text(1, 2, '<script>"x" & y</script>'), href='/x?a=1&b="2"')
    assert "<script>" not in markup
    assert "&lt;script&gt;&quot;x&quot; &amp; y&lt;/script&gt;" in markup
    assert 'href="/x?a=1&amp;b=&quot;2&quot;"' in markup
    parse(svg.document(10, 10, markup, label="t"))


def test_it_writes_attribute_names_as_svg_spells_them():
    markup = svg.element("text", "x", font_size=11, text_anchor="end", class_="c", viewBox="0 0 1 1", skipped=None)
    assert markup == '<text font-size="11" text-anchor="end" class="c" viewBox="0 0 1 1">x</text>'


def test_the_document_scales_and_is_named_for_screen_readers():
    root = parse(svg.document(480, 200, "", label="Backups & restores"))
    assert root.get("viewBox") == "0 0 480 200"
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Backups & restores"
    assert title_of(root) == "Backups & restores"


@pytest.mark.parametrize(
    ("maximum", "integer", "expected"),
    [
        (0, True, (4.0, 1.0)),
        (3, True, (3, 1)),
        (7, True, (8, 2)),
        (18, True, (20, 5)),
        (101, True, (150, 50)),
        (0.7, False, (0.8, 0.2)),
        (23.4, False, (30, 10)),
        (9.5, False, (10, 2.5)),
    ],
)
def test_nice_scale_picks_round_steps(maximum, integer, expected):
    top, step = svg.nice_scale(maximum, integer=integer)
    assert (top, step) == pytest.approx(expected)
    assert top >= maximum


def test_a_bar_chart_has_a_bar_per_label_and_series_with_its_value_on_hover():
    markup = svg.bar_chart(
        title="Tasks per week",
        labels=["01 Jan", "08 Jan", "15 Jan"],
        series=[Series("opened", [1, 4, 0], "#111111"), Series("completed", [0, 2, 3], "#222222")],
    )
    root = parse(markup)
    bars = root.findall("svg:rect", NS)
    legend_swatches = [bar for bar in bars if bar.find("svg:title", NS) is None]
    data_bars = [bar for bar in bars if bar.find("svg:title", NS) is not None]
    assert len(legend_swatches) == 2
    assert len(data_bars) == 6
    titles = [title_of(bar) for bar in data_bars]
    assert "08 Jan — opened: 4" in titles
    assert "15 Jan — completed: 3" in titles
    tallest = max(data_bars, key=lambda bar: float(attribute(bar, "height")))
    assert title_of(tallest) == "08 Jan — opened: 4"
    assert "Tasks per week" in [t.text for t in root.findall("svg:text", NS)]


def test_a_bar_chart_thins_its_axis_labels():
    labels = [f"w{i}" for i in range(24)]
    root = parse(svg.bar_chart(title="t", labels=labels, series=[Series("n", list(range(24)), "#000")]))
    shown = {t.text for t in root.findall("svg:text", NS)} & set(labels)
    assert 1 < len(shown) <= svg.MAX_X_LABELS


def test_a_line_chart_has_a_line_and_a_marker_per_point():
    root = parse(
        svg.line_chart(
            title="Backup duration",
            labels=["a", "b", "c"],
            series=[Series("duration", [10.0, 12.5, 9.0], "#333")],
            unit="s",
        )
    )
    (line,) = root.findall("svg:polyline", NS)
    assert len(attribute(line, "points").split()) == 3
    markers = root.findall("svg:circle", NS)
    assert [title_of(m) for m in markers] == [
        "a — duration: 10 s",
        "b — duration: 12.5 s",
        "c — duration: 9 s",
    ]


def test_a_horizontal_bar_chart_names_and_writes_each_value():
    root = parse(svg.hbar_chart(title="Documents", items=[("runbooks", 12), ("a" * 40, 3)]))
    texts = [t.text for t in root.findall("svg:text", NS)]
    assert "runbooks" in texts
    assert "12" in texts
    assert "a" * 21 + "…" in texts  # long names are shortened, the tooltip keeps them whole
    assert title_of(root.findall("svg:rect", NS)[1]) == "a" * 40 + ": 3"


@pytest.mark.parametrize(
    "markup",
    [
        svg.bar_chart(title="Nothing", labels=[], series=[]),
        svg.bar_chart(title="Nothing", labels=["a"], series=[Series("n", [0], "#000")]),
        svg.line_chart(title="Nothing", labels=[], series=[Series("n", [], "#000")]),
        svg.hbar_chart(title="Nothing", items=[]),
    ],
)
def test_a_chart_without_data_says_so(markup):
    root = parse(markup)
    assert "No data yet." in [t.text for t in root.findall("svg:text", NS)]
    assert root.findall("svg:rect", NS) == []


def test_charts_hold_no_script_style_event_handler_or_external_reference():
    markup = svg.bar_chart(title="t", labels=["a"], series=[Series("n", [1], "#000")]) + svg.hbar_chart(
        title="t", items=[("a", 1)]
    )
    for forbidden in ("<script", "<style", "<image", "<foreignObject"):
        assert forbidden not in markup
    assert re.search(r"\son[a-z]+=", markup) is None
    assert "http" not in markup.replace(svg.SVG_NS, "")


def test_long_axis_labels_are_thinned_so_that_they_do_not_overlap():
    labels = [f"{day:02d} Nov 02:00" for day in range(1, 15)]
    root = parse(svg.line_chart(title="t", labels=labels, series=[Series("s", [1.0] * 14, "#000")], width=480))
    positions = sorted(float(attribute(t, "x")) for t in root.findall("svg:text", NS) if t.text in labels)
    assert len(positions) >= 3
    gaps = [b - a for a, b in pairwise(positions)]
    assert min(gaps) >= len(labels[0]) * svg.CHAR_WIDTH
