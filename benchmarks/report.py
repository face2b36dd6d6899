"""Plain-text and Markdown rendering of benchmark results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent / "out"


@dataclass
class Table:
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    # One character per column: "l" or "r".
    align: str = ""

    def _aligns(self) -> str:
        return (self.align or "l" + "r" * (len(self.headers) - 1)).ljust(len(self.headers), "l")

    def to_text(self) -> str:
        widths = [len(h) for h in self.headers]
        for row in self.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
        aligns = self._aligns()

        def line(cells: Sequence[str]) -> str:
            parts = [
                cell.rjust(w) if a == "r" else cell.ljust(w) for cell, w, a in zip(cells, widths, aligns, strict=True)
            ]
            return "  ".join(parts).rstrip()

        rule = "  ".join("-" * w for w in widths)
        return "\n".join([self.title, line(self.headers), rule, *(line(r) for r in self.rows)])

    def to_markdown(self) -> str:
        aligns = self._aligns()

        def esc(cell: str) -> str:
            return cell.replace("|", "\\|")

        head = "| " + " | ".join(esc(h) for h in self.headers) + " |"
        rule = "|" + "|".join("---:" if a == "r" else ":---" for a in aligns) + "|"
        body = ["| " + " | ".join(esc(c) for c in row) + " |" for row in self.rows]
        return "\n".join([f"### {self.title}", "", head, rule, *body])


@dataclass
class Text:
    """A paragraph; ``code`` renders it as a preformatted block in Markdown."""

    text: str
    code: bool = False

    def to_text(self) -> str:
        return self.text

    def to_markdown(self) -> str:
        return f"```\n{self.text}\n```" if self.code else self.text


@dataclass(frozen=True)
class SummaryRow:
    """One headline figure for the combined table of ``make bench``: the figure, its baseline
    measured in the same run, their ratio, the target and whether it was met (None: no target)."""

    figure: str
    value: str
    baseline: str = "-"
    ratio: str = "-"
    target: str = "-"
    met: bool | None = None

    @property
    def verdict(self) -> str:
        return "-" if self.met is None else "met" if self.met else "MISSED"


@dataclass
class Report:
    name: str
    title: str
    blocks: list[Table | Text] = field(default_factory=list)
    summary: list[SummaryRow] = field(default_factory=list)

    def to_text(self) -> str:
        heading = f"== {self.title} =="
        return "\n\n".join([heading, *(b.to_text() for b in self.blocks)])

    def to_markdown(self) -> str:
        return "\n\n".join([f"## {self.title}", *(b.to_markdown() for b in self.blocks)]) + "\n"

    def write_markdown(self) -> Path:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        path = OUT_DIR / f"{self.name}.md"
        path.write_text(self.to_markdown(), encoding="utf-8")
        return path
