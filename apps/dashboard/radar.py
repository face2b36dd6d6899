"""The technology radar as SVG: four quadrants (groups of domains), four rings, one numbered
dot per technology linking to its admin page, its title on hover, and a numbered legend.

Placement is deterministic (the same technologies always give the same picture): in each
quadrant and ring, dots are shared between concentric lanes in proportion to the room each
lane has, then spread evenly along it, so they do not overlap until a cell is full.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from apps.dashboard.svg import INK, MUTED, document, element, text, tooltip
from apps.technologies.choices import RadarRing, TechnologyDomain

SIZE = 640
CENTRE = SIZE / 2
RADIUS = 300
DOT = 9
SPACING = 2 * DOT + 4
PAD = math.radians(4)
LEGEND_LINE = 15
LEGEND_COLUMN = 200
RING_BANDS = {
    RadarRing.ADOPT: (0.0, 0.40),
    RadarRing.TRIAL: (0.40, 0.64),
    RadarRing.ASSESS: (0.64, 0.84),
    RadarRing.HOLD: (0.84, 1.0),
}
RING_FILLS = {
    RadarRing.ADOPT: "#dfe8ef",
    RadarRing.TRIAL: "#e8eef3",
    RadarRing.ASSESS: "#f0f4f7",
    RadarRing.HOLD: "#f7f9fb",
}


@dataclass(frozen=True)
class Quadrant:
    name: str
    domains: tuple[str, ...]
    start: int  # degrees, counter-clockwise from three o'clock
    colour: str


# In reading order: top left, top right, bottom left, bottom right.
QUADRANTS = (
    Quadrant("Languages & frameworks", ("backend", "frontend", "ui-ux"), 90, "#0b6aa2"),
    Quadrant("AI & data", ("ai-ml", "data"), 0, "#007a5a"),
    Quadrant("Platforms & infrastructure", ("infrastructure", "other"), 180, "#9a5b00"),
    Quadrant("Tools, DevOps & security", ("devops", "security", "performance"), 270, "#c23b00"),
)
_QUADRANT_OF = {domain: quadrant for quadrant in QUADRANTS for domain in quadrant.domains}


@dataclass(frozen=True)
class Blip:
    id: int
    title: str
    domain: str
    ring: str  # "" when not placed yet
    status: str
    url: str


@dataclass(frozen=True)
class PlacedBlip:
    number: int
    blip: Blip
    quadrant: Quadrant
    x: float
    y: float


def quadrant_of(domain: str) -> Quadrant:
    return _QUADRANT_OF.get(domain, _QUADRANT_OF[TechnologyDomain.OTHER])


def _lanes(inner: float, outer: float, span: float) -> list[tuple[float, int]]:
    """Concentric lanes of a cell: (radius, how many dots fit along it without touching)."""
    inner = max(inner, DOT * 2.5)
    count = max(1, int((outer - inner) // SPACING))
    width = (outer - inner) / count
    lanes = []
    for j in range(count):
        radius = inner + width * (j + 0.5)
        lanes.append((radius, max(1, int(radius * span // SPACING))))
    return lanes


def cell_positions(count: int, inner: float, outer: float, start_degrees: float) -> list[tuple[float, float]]:
    """``count`` positions (radius, angle in radians) inside one quadrant's ring band."""
    span = math.radians(90) - 2 * PAD
    lanes = _lanes(inner, outer, span)
    filled = [0] * len(lanes)
    for _ in range(count):
        # The emptiest lane relative to its room; the outer one (more room) on a tie.
        best = min(range(len(lanes)), key=lambda j: (filled[j] / lanes[j][1], -j))
        filled[best] += 1
    positions: list[tuple[float, float]] = []
    start = math.radians(start_degrees) + PAD
    for (radius, _), n in zip(lanes, filled, strict=True):
        positions.extend((radius, start + span * (i + 0.5) / n) for i in range(n))
    return positions


def place(blips: Sequence[Blip]) -> list[PlacedBlip]:
    """Number the placed technologies (quadrant, ring, title order) and position them."""
    placed: list[PlacedBlip] = []
    number = 0
    for quadrant in QUADRANTS:
        for ring, (inner, outer) in RING_BANDS.items():
            cell = sorted(
                (b for b in blips if b.ring == ring and quadrant_of(b.domain) is quadrant),
                key=lambda b: (b.title.lower(), b.id),
            )
            positions = cell_positions(len(cell), inner * RADIUS, outer * RADIUS, quadrant.start)
            for blip, (radius, angle) in zip(cell, positions, strict=True):
                number += 1
                x = CENTRE + radius * math.cos(angle)
                y = CENTRE - radius * math.sin(angle)
                placed.append(PlacedBlip(number, blip, quadrant, x, y))
    return placed


def _describe(item: PlacedBlip) -> str:
    blip = item.blip
    ring = RadarRing(blip.ring).label
    domain = TechnologyDomain(blip.domain).label if blip.domain in TechnologyDomain.values else blip.domain
    return f"{item.number}. {blip.title} — {ring}, {blip.status} ({domain})"


def _background() -> str:
    parts = [element("rect", x=0, y=0, width=SIZE, height=SIZE, fill="#ffffff")]
    for ring in reversed(list(RING_BANDS)):
        outer = RING_BANDS[ring][1] * RADIUS
        parts.append(element("circle", cx=CENTRE, cy=CENTRE, r=outer, fill=RING_FILLS[ring]))
    parts.append(
        element("line", x1=CENTRE - RADIUS, y1=CENTRE, x2=CENTRE + RADIUS, y2=CENTRE, stroke="#fff", stroke_width=2)
    )
    parts.append(
        element("line", x1=CENTRE, y1=CENTRE - RADIUS, x2=CENTRE, y2=CENTRE + RADIUS, stroke="#fff", stroke_width=2)
    )
    for ring, (inner, outer) in RING_BANDS.items():
        y = CENTRE - (inner + outer) / 2 * RADIUS + 4
        parts.append(
            text(CENTRE, y, RadarRing(ring).label.upper(), text_anchor="middle", fill="#8a99a6", font_weight="bold")
        )
    corners = [(8, 20, "start"), (SIZE - 8, 20, "end"), (8, SIZE - 10, "start"), (SIZE - 8, SIZE - 10, "end")]
    for quadrant, (x, y, anchor) in zip(QUADRANTS, corners, strict=True):
        parts.append(
            text(x, y, quadrant.name, text_anchor=anchor, fill=quadrant.colour, font_weight="bold", font_size=14)
        )
    return "".join(parts)


def _dot(item: PlacedBlip) -> str:
    circle = element("circle", cx=item.x, cy=item.y, r=DOT, fill=item.quadrant.colour, stroke="#fff")
    label = text(item.x, item.y + 3.5, str(item.number), text_anchor="middle", fill="#fff", font_size=9)
    return element("a", tooltip(_describe(item)) + circle + label, href=item.blip.url, class_="cc-blip")


def _legend(placed: Sequence[PlacedBlip], unplaced: int, height: int) -> tuple[str, int]:
    """The numbered list beside the radar, in columns of the radar's height; and its width."""
    lines: list[tuple[str, PlacedBlip | None, Quadrant | None]] = []
    for quadrant in QUADRANTS:
        members = [p for p in placed if p.quadrant is quadrant]
        lines.append((quadrant.name, None, quadrant))
        lines.extend((f"{p.number}. {p.blip.title}", p, None) for p in members)
        if not members:
            lines.append(("—", None, None))
    if unplaced:
        lines.append((f"Not placed yet (no ring): {unplaced}", None, None))
    per_column = (height - 24) // LEGEND_LINE
    parts = []
    for i, (content, item, heading) in enumerate(lines):
        column, row = divmod(i, per_column)
        x = SIZE + 16 + column * LEGEND_COLUMN
        y = 24 + row * LEGEND_LINE
        shown = content if len(content) <= 32 else content[:31] + "…"
        if heading is not None:
            parts.append(text(x, y, shown, fill=heading.colour, font_weight="bold", font_size=12))
        elif item is not None:
            parts.append(
                element(
                    "a",
                    tooltip(_describe(item)) + text(x, y, shown, fill=INK),
                    href=item.blip.url,
                    class_="cc-blip-legend",
                )
            )
        else:
            parts.append(text(x, y, shown, fill=MUTED))
    columns = math.ceil(len(lines) / per_column)
    return "".join(parts), 16 + columns * LEGEND_COLUMN


def render_radar(blips: Sequence[Blip], *, label: str = "Technology radar") -> str:
    """The whole radar: background, dots, legend. Technologies without a ring are counted only."""
    placed = place(blips)
    unplaced = sum(1 for b in blips if not b.ring)
    legend, legend_width = _legend(placed, unplaced, SIZE)
    body = _background() + "".join(_dot(item) for item in placed) + legend
    if not placed:
        body += text(CENTRE, CENTRE + 5, "No technology matches.", text_anchor="middle", fill=INK, font_size=14)
    summary = f"{label}: {len(placed)} technolog{'y' if len(placed) == 1 else 'ies'} placed"
    return document(SIZE + legend_width, SIZE, body, label=summary, css_class="cc-radar")
