"""Split a document's text into chunks for embedding: by Markdown section, then by paragraph.

Rules, in order: the text is cut into sections at Markdown headings (ATX ``#``..``######``
and single-line setext ``===``/``---``; a ``#`` inside a fenced code block is code, not a
heading); each section's paragraphs (blank-line separated, a fenced block counts as one) are
packed whole into chunks of at most ``max_chars``; a paragraph longer than that is split at
sentence ends, then line ends, then spaces, then anywhere. Consecutive chunks of one section
share up to ``overlap_chars`` of trailing paragraphs or sentences. A chunk never spans two
sections and never contains its heading line: the heading path is in ``Chunk.heading``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_MAX_CHARS = 1200
DEFAULT_OVERLAP_CHARS = 200
HEADING_SEPARATOR = " > "
PARAGRAPH_SEPARATOR = "\n\n"

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_ATX_CLOSING = re.compile(r"(?:^|[ \t]+)#+$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_NOT_SETEXT_TITLE = re.compile(r"^(?: {4}|\t| {0,3}(?:[-*+>]|\d{1,9}[.)])(?:[ \t]|$))")

# The separators a too-long paragraph is split at, coarsest first. Each matches the
# whitespace between two pieces (zero-width after CJK full stops, which take no space).
_SENTENCE_BREAK = re.compile(
    "(?:(?<=[.!?\u2026])|(?<=[.!?\u2026][\"'\u201d\u2019)\\]]))\\s+"  # ... . ! ? then a closing quote
    "|(?<=[\u3002\uff01\uff1f])\\s*"  # CJK full stop, exclamation and question marks
)
_LINE_BREAK = re.compile(r"\n")
_SPACE = re.compile(r"\s+")
_BREAKS = (_SENTENCE_BREAK, _LINE_BREAK, _SPACE)


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    heading: str


@dataclass(frozen=True)
class Section:
    """The text under one heading: ``title`` is its own, ``heading`` the whole path."""

    title: str
    heading: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class _Piece:
    text: str
    # What stood between this piece and the one before it in the original text; dropped when
    # the piece starts a chunk.
    sep: str


# --- sections -----------------------------------------------------------------------------------


def normalize_newlines(text: str) -> str:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def parse_atx_heading(line: str) -> tuple[int, str] | None:
    """``(level, title)`` for an ATX heading line (``## Title ##``), else None."""
    match = _ATX.match(line)
    if match is None:
        return None
    title = _ATX_CLOSING.sub("", match.group(2) or "").strip()
    return len(match.group(1)), title


def _closes_fence(line: str, fence: str) -> bool:
    stripped = line.strip()
    return (
        len(line) - len(line.lstrip(" ")) <= 3 and len(stripped) >= len(fence) and stripped == fence[0] * len(stripped)
    )


class _SectionBuilder:
    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.path: list[tuple[int, str]] = []
        self.title = ""
        self.paragraphs: list[str] = []
        self.lines: list[str] = []

    def flush_paragraph(self) -> None:
        paragraph = "\n".join(self.lines).strip()
        if paragraph:
            self.paragraphs.append(paragraph)
        self.lines = []

    def close_section(self) -> None:
        self.flush_paragraph()
        heading = HEADING_SEPARATOR.join(title for _, title in self.path if title)
        self.sections.append(Section(title=self.title, heading=heading, paragraphs=tuple(self.paragraphs)))
        self.paragraphs = []

    def open_section(self, level: int, title: str) -> None:
        self.close_section()
        self.path = [(lvl, t) for lvl, t in self.path if lvl < level] + [(level, title)]
        self.title = title


def split_sections(text: str) -> list[Section]:
    """The sections of a Markdown text in order; text before the first heading has heading ""."""
    builder = _SectionBuilder()
    fence: str | None = None
    for line in normalize_newlines(text).split("\n"):
        if fence is not None:
            builder.lines.append(line)
            if _closes_fence(line, fence):
                fence = None
            continue
        opened = _FENCE_OPEN.match(line)
        if opened:
            fence = opened.group(1)
            builder.lines.append(line)
            continue
        heading = parse_atx_heading(line)
        if heading is not None:
            builder.open_section(*heading)
            continue
        underline = _SETEXT.match(line)
        if underline and len(builder.lines) == 1 and not _NOT_SETEXT_TITLE.match(builder.lines[0]):
            title = builder.lines.pop().strip()
            builder.open_section(1 if underline.group(1)[0] == "=" else 2, title)
            continue
        if line.strip():
            builder.lines.append(line)
        else:
            builder.flush_paragraph()
    builder.close_section()
    return builder.sections


# --- pieces -------------------------------------------------------------------------------------


def _split_on(piece: _Piece, pattern: re.Pattern[str]) -> list[_Piece]:
    """The piece cut at every match of ``pattern``; the first part keeps the piece's sep."""
    parts: list[_Piece] = []
    sep, start = piece.sep, 0
    for match in pattern.finditer(piece.text):
        if match.end() == 0 or match.start() == len(piece.text):
            continue
        part = piece.text[start : match.start()]
        if part.strip():
            parts.append(_Piece(part, sep))
            sep = match.group(0)
        start = match.end()
    tail = piece.text[start:]
    if tail.strip():
        parts.append(_Piece(tail, sep))
    return parts or [piece]


def _hard_split(piece: _Piece, max_chars: int) -> list[_Piece]:
    text = piece.text
    return [_Piece(text[i : i + max_chars], piece.sep if i == 0 else "") for i in range(0, len(text), max_chars)]


def _split_long(piece: _Piece, max_chars: int, level: int = 0) -> list[_Piece]:
    """Pieces of at most ``max_chars``, cut at the coarsest boundary that gets there."""
    if len(piece.text) <= max_chars:
        return [piece]
    if level == len(_BREAKS):
        return _hard_split(piece, max_chars)
    return [small for part in _split_on(piece, _BREAKS[level]) for small in _split_long(part, max_chars, level + 1)]


def _length(pieces: Sequence[_Piece]) -> int:
    return sum(len(p.text) + len(p.sep) for p in pieces) - (len(pieces[0].sep) if pieces else 0)


def _join(pieces: Sequence[_Piece]) -> str:
    return (pieces[0].text + "".join(p.sep + p.text for p in pieces[1:])).strip()


def _overlap(previous: Sequence[_Piece], budget: int) -> list[_Piece]:
    """The trailing pieces of ``previous`` (whole, then sentences of one) within ``budget``."""
    tail: list[_Piece] = []
    for piece in reversed(previous):
        if _length([piece, *tail]) <= budget:
            tail.insert(0, piece)
            continue
        for sentence in reversed(_split_on(piece, _SENTENCE_BREAK)):
            if _length([sentence, *tail]) > budget:
                break
            tail.insert(0, sentence)
        break
    return tail


def _pack(pieces: Sequence[_Piece], max_chars: int, overlap_chars: int) -> list[str]:
    chunks: list[str] = []
    current: list[_Piece] = []
    size = 0  # _length(current), kept incrementally: a paragraph of many words is many pieces
    for piece in pieces:
        if current and size + len(piece.sep) + len(piece.text) > max_chars:
            chunks.append(_join(current))
            budget = min(overlap_chars, max_chars - len(piece.sep) - len(piece.text))
            current = _overlap(current, budget)
            size = _length(current)
        size += len(piece.text) + (len(piece.sep) if current else 0)
        current.append(piece)
    if current:
        chunks.append(_join(current))
    return chunks


# --- public -------------------------------------------------------------------------------------


def chunk_text(
    text: str,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    overlap_chars: int = DEFAULT_OVERLAP_CHARS,
) -> list[Chunk]:
    """The chunks of ``text``, indexed from 0; the same text always gives the same chunks."""
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    if not 0 <= overlap_chars < max_chars:
        raise ValueError("overlap_chars must be at least 0 and less than max_chars")
    chunks: list[Chunk] = []
    for section in split_sections(text):
        pieces = [
            small
            for paragraph in section.paragraphs
            for small in _split_long(_Piece(paragraph, PARAGRAPH_SEPARATOR), max_chars)
        ]
        for body in _pack(pieces, max_chars, overlap_chars):
            chunks.append(Chunk(index=len(chunks), text=body, heading=section.heading))
    return chunks


def first_heading(text: str) -> str:
    """The title of the first non-empty heading, or ""."""
    return next((section.title for section in split_sections(text) if section.title), "")
