"""Server-side SVG charts: pure functions that return SVG text.

No script, no stylesheet, no external resource: presentation is in attributes, so the
charts render under the production CSP and without JavaScript. Every text and attribute
value goes through ``escape``; hovering a bar or a point shows its ``<title>``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape

SVG_NS = "http://www.w3.org/2000/svg"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"
INK = "#333333"
MUTED = "#666666"
GRID = "#e5e5e5"
# Colour-blind-safe pairs (Okabe-Ito): blue, orange, bluish green, vermillion, sky blue.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#d55e00", "#56b4e9")

MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 48, 12, 40, 34
MAX_X_LABELS = 8
CHAR_WIDTH = 6.2


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    colour: str


def number(value: float) -> str:
    """A coordinate or a value for people: at most one decimal, no trailing zero."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def element(tag: str, content: str = "", **attributes: object) -> str:
    """``<tag a="v">content</tag>``; ``font_size`` becomes ``font-size``; ``None`` drops it."""
    parts = [tag]
    for name, value in attributes.items():
        if value is None:
            continue
        shown = number(value) if isinstance(value, float) else str(value)
        parts.append(f'{name.rstrip("_").replace("_", "-")}="{escape(shown)}"')
    opening = " ".join(parts)
    return f"<{opening}>{content}</{tag}>" if content else f"<{opening}/>"


def text(x: float, y: float, content: str, **attributes: object) -> str:
    return element("text", escape(content), x=float(x), y=float(y), **attributes)


def tooltip(content: str) -> str:
    return element("title", escape(content))


def document(width: int, height: int, body: str, *, label: str, css_class: str = "cc-chart") -> str:
    """The root ``<svg>``: scales down with its container (viewBox), named for screen readers."""
    return element(
        "svg",
        tooltip(label) + body,
        xmlns=SVG_NS,
        viewBox=f"0 0 {width} {height}",
        width=width,
        height=height,
        role="img",
        aria_label=label,
        class_=css_class,
        font_family=FONT,
        font_size=11,
    )


def nice_scale(maximum: float, *, integer: bool = True, ticks: int = 4) -> tuple[float, float]:
    """The top of the axis and the step between grid lines: 1, 2, 2.5 or 5 times a power of 10."""
    if maximum <= 0 or math.isnan(maximum):
        return (float(ticks), 1.0) if integer else (1.0, 0.25)
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude * 10
    for multiple in (1, 2, 2.5, 5, 10):
        candidate = multiple * magnitude
        if integer and (candidate < 1 or candidate != int(candidate)):
            continue
        if candidate >= raw:
            step = candidate
            break
    return step * math.ceil(maximum / step - 1e-9), step


def _title(title: str) -> str:
    return text(MARGIN_LEFT, 18, title, font_size=13, font_weight="bold", fill=INK)


def _legend(series: Sequence[Series], width: int) -> str:
    if len(series) < 2:
        return ""
    parts, x = [], float(width - MARGIN_RIGHT)
    for item in reversed(series):
        x -= 8 + len(item.name) * CHAR_WIDTH
        parts.append(element("rect", x=x, y=26.0, width=9, height=9, fill=item.colour))
        parts.append(text(x + 12, 34.5, item.name, fill=MUTED))
        x -= 14
    return "".join(parts)


def _axes(top: float, step: float, width: int, height: int, unit: str) -> str:
    plot_bottom = height - MARGIN_BOTTOM
    plot_height = plot_bottom - MARGIN_TOP
    parts = []
    steps = round(top / step)
    for i in range(steps + 1):
        value = i * step
        y = plot_bottom - plot_height * value / top
        parts.append(element("line", x1=float(MARGIN_LEFT), y1=y, x2=float(width - MARGIN_RIGHT), y2=y, stroke=GRID))
        parts.append(text(MARGIN_LEFT - 6, y + 4, number(value), text_anchor="end", fill=MUTED))
    if unit:
        parts.append(text(MARGIN_LEFT - 6, MARGIN_TOP - 8, unit, text_anchor="end", fill=MUTED))
    return "".join(parts)


def _x_labels(labels: Sequence[str], width: int, height: int) -> str:
    slot = (width - MARGIN_LEFT - MARGIN_RIGHT) / len(labels)
    # At most MAX_X_LABELS, and never so close that they overlap (about 6 px a character).
    widest = max(len(label) for label in labels) * CHAR_WIDTH + 8
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS), math.ceil(widest / slot))
    return "".join(
        text(MARGIN_LEFT + slot * (i + 0.5), height - MARGIN_BOTTOM + 16, label, text_anchor="middle", fill=MUTED)
        for i, label in enumerate(labels)
        if i % every == 0
    )


def empty_chart(title: str, message: str = "No data yet.", *, width: int = 480, height: int = 200) -> str:
    body = _title(title) + text(width / 2, height / 2 + 8, message, text_anchor="middle", fill=MUTED, font_size=13)
    return document(width, height, body, label=f"{title}: {message}")


def _has_data(labels: Sequence[str], series: Sequence[Series]) -> bool:
    return bool(labels) and any(any(v for v in s.values) for s in series)


def _frame(
    labels: Sequence[str], series: Sequence[Series], integer: bool, width: int, height: int
) -> tuple[float, float, float, float, float]:
    """The value axis (top, step) and the plot geometry (bottom, height, slot per label) of a chart."""
    top, step = nice_scale(max(max(s.values, default=0) for s in series), integer=integer)
    plot_bottom = height - MARGIN_BOTTOM
    return top, step, plot_bottom, plot_bottom - MARGIN_TOP, (width - MARGIN_LEFT - MARGIN_RIGHT) / len(labels)


def bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    integer: bool = True,
    width: int = 480,
    height: int = 220,
) -> str:
    """Vertical bars, one group per label, one bar per series."""
    if not _has_data(labels, series):
        return empty_chart(title, width=width, height=height)
    top, step, plot_bottom, plot_height, slot = _frame(labels, series, integer, width, height)
    bar_width = slot * 0.8 / len(series)
    bars = []
    for i, label in enumerate(labels):
        for j, item in enumerate(series):
            value = item.values[i]
            bar_height = plot_height * value / top
            rect_x = MARGIN_LEFT + slot * i + slot * 0.1 + bar_width * j
            caption = f"{label} — {item.name}: {number(value)}{' ' + unit if unit else ''}"
            bars.append(
                element(
                    "rect",
                    tooltip(caption),
                    x=rect_x,
                    y=plot_bottom - bar_height,
                    width=max(bar_width - 1, 1.0),
                    height=bar_height,
                    fill=item.colour,
                )
            )
    body = (
        _title(title)
        + _legend(series, width)
        + _axes(top, step, width, height, unit)
        + "".join(bars)
        + _x_labels(labels, width, height)
    )
    return document(width, height, body, label=title)


def line_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    integer: bool = False,
    width: int = 480,
    height: int = 220,
) -> str:
    """One line per series over evenly spaced labels, with a marker (and its tooltip) per point."""
    if not _has_data(labels, series):
        return empty_chart(title, width=width, height=height)
    top, step, plot_bottom, plot_height, slot = _frame(labels, series, integer, width, height)
    lines = []
    for item in series:
        points = [
            (MARGIN_LEFT + slot * (i + 0.5), plot_bottom - plot_height * value / top)
            for i, value in enumerate(item.values)
        ]
        lines.append(
            element(
                "polyline",
                points=" ".join(f"{number(x)},{number(y)}" for x, y in points),
                fill="none",
                stroke=item.colour,
                stroke_width=2,
            )
        )
        for (x, y), label, value in zip(points, labels, item.values, strict=True):
            caption = f"{label} — {item.name}: {number(value)}{' ' + unit if unit else ''}"
            lines.append(element("circle", tooltip(caption), cx=x, cy=y, r=3.5, fill=item.colour))
    body = (
        _title(title)
        + _legend(series, width)
        + _axes(top, step, width, height, unit)
        + "".join(lines)
        + _x_labels(labels, width, height)
    )
    return document(width, height, body, label=title)


def hbar_chart(
    *,
    title: str,
    items: Sequence[tuple[str, float]],
    unit: str = "",
    colour: str = PALETTE[2],
    width: int = 480,
    row_height: int = 22,
) -> str:
    """Horizontal bars, one per item, the value written at the end of each bar."""
    if not items or not any(value for _, value in items):
        return empty_chart(title, width=width)
    label_width = 140
    height = MARGIN_TOP + row_height * len(items) + 10
    longest = max(value for _, value in items)
    room = width - label_width - MARGIN_RIGHT - 40
    rows = []
    for i, (label, value) in enumerate(items):
        y = MARGIN_TOP + row_height * i
        shown = label if len(label) <= 22 else label[:21] + "…"
        bar = room * value / longest if longest else 0
        caption = f"{label}: {number(value)}{' ' + unit if unit else ''}"
        rows.append(text(label_width - 8, y + row_height * 0.65, shown, text_anchor="end", fill=INK))
        rows.append(
            element(
                "rect",
                tooltip(caption),
                x=float(label_width),
                y=y + 3.0,
                width=max(bar, 1.0),
                height=row_height - 6.0,
                fill=colour,
            )
        )
        rows.append(text(label_width + bar + 6, y + row_height * 0.65, number(value), fill=MUTED))
    return document(width, height, _title(title) + "".join(rows), label=title)
