"""Plain text out of uploaded documents: plain text, Markdown, HTML and PDF.

Text and Markdown must be UTF-8 (a BOM is dropped; UTF-16 with a BOM is accepted too):
invalid bytes raise :class:`ExtractionError` naming the offset, rather than being replaced,
so a Latin-1 or binary file is refused instead of being indexed as mojibake. HTML is more
forgiving because web pages are often mislabelled: it is decoded with the charset its
``<meta>`` declares (UTF-8 otherwise) and invalid bytes become U+FFFD.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import re
from html.parser import HTMLParser
from pathlib import PurePosixPath

from apps.knowledge.chunking import first_heading, normalize_newlines

TEXT = "text"
MARKDOWN = "markdown"
HTML = "html"
PDF = "pdf"
KINDS = (TEXT, MARKDOWN, HTML, PDF)

SUPPORTED_DESCRIPTION = "plain text (.txt), Markdown (.md, .markdown), HTML (.html, .htm) and PDF (.pdf)"
TITLE_MAX_CHARS = 300

EXTENSIONS = {
    ".txt": TEXT,
    ".text": TEXT,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".mdown": MARKDOWN,
    ".mkd": MARKDOWN,
    ".html": HTML,
    ".htm": HTML,
    ".xhtml": HTML,
    ".pdf": PDF,
}
CONTENT_TYPES = {
    "text/plain": TEXT,
    "text/markdown": MARKDOWN,
    "text/x-markdown": MARKDOWN,
    "text/html": HTML,
    "application/xhtml+xml": HTML,
    "application/pdf": PDF,
}
# Formats recognised by their first bytes and refused whatever their name says.
BINARY_SIGNATURES = (
    b"\x89PNG",
    b"\xff\xd8\xff",  # JPEG
    b"GIF8",
    b"RIFF",  # WebP, WAV, AVI
    b"PK\x03\x04",  # zip, docx, xlsx, odt, jar
    b"\x1f\x8b",  # gzip
    b"BZh",
    b"\xfd7zXZ",
    b"7z\xbc\xaf",
    b"Rar!",
    b"\x7fELF",
    b"MZ",  # Windows executables
    b"\xd0\xcf\x11\xe0",  # legacy Office
    b"\xca\xfe\xba\xbe",  # Mach-O, Java class
    b"\xcf\xfa\xed\xfe",
    b"SQLite format 3",
)
PDF_MAGIC = b"%PDF-"
_HTML_SNIFF = re.compile(rb"^\s*(?:<!doctype\s+html|<html[\s>])", re.IGNORECASE)
# ASCII whitespace only: a no-break space is content, as in browsers.
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_SPACES = re.compile(r" {2,}")
_META_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?([a-zA-Z0-9_.:-]+)", re.IGNORECASE)


class UnsupportedDocumentType(ValueError):
    """The document is none of the supported kinds."""


class ExtractionError(ValueError):
    """The document is of a supported kind but no text could be read from it."""


# --- detection ----------------------------------------------------------------------------------


def _extension(filename: str) -> str:
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower()


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    try:
        # The head may end inside a multi-byte character; an incremental decoder allows that.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    return True


def unsupported(filename: str, content_type: str | None) -> UnsupportedDocumentType:
    described = f"{filename!r}" + (f" ({_media_type(content_type)})" if content_type else "")
    return UnsupportedDocumentType(f"unsupported document type {described}: supported are {SUPPORTED_DESCRIPTION}")


def detect_kind(filename: str, content_type: str | None, head: bytes) -> str:
    """The kind of a document from its first bytes, its name and its declared content type.

    The bytes win (a PDF is a PDF whatever it is called; a PNG renamed ``.txt`` is refused),
    then the extension, then the content type; a file with neither is accepted as plain text
    or HTML only when its first bytes look like it.
    """
    stripped = head.lstrip()
    if stripped.startswith(PDF_MAGIC):
        return PDF
    if head.startswith(BINARY_SIGNATURES):
        raise unsupported(filename, content_type)
    extension = _extension(filename)
    media_type = _media_type(content_type)
    kind = EXTENSIONS.get(extension) or CONTENT_TYPES.get(media_type)
    if kind is None and not extension and media_type in {"", "application/octet-stream"}:
        kind = HTML if _HTML_SNIFF.match(head) else TEXT
    elif kind is None and media_type.startswith("text/") and not media_type.startswith("text/rtf"):
        kind = TEXT  # source code, CSV, YAML... served as text/*
    if kind is None or (kind != PDF and not _looks_like_text(head)):
        raise unsupported(filename, content_type)
    return kind


# --- extraction ---------------------------------------------------------------------------------


def extract_text(data: bytes, kind: str) -> str:
    """The document's text with ``\\n`` newlines; raises :class:`ExtractionError` when there is none."""
    if kind in (TEXT, MARKDOWN):
        text = decode_text(data)
    elif kind == HTML:
        text = html_to_text(decode_html(data))
    elif kind == PDF:
        text = pdf_to_text(data)
    else:
        raise UnsupportedDocumentType(f"unknown document kind {kind!r}: supported are {', '.join(KINDS)}")
    text = normalize_newlines(text).strip()
    if not text:
        raise ExtractionError("no text in the document")
    return text


def decode_text(data: bytes) -> str:
    encoding = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ExtractionError(
            f"the document is not valid UTF-8 text (invalid byte at offset {exc.start}); save it as UTF-8"
        ) from exc


def decode_html(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return decode_text(data)
    encoding = "utf-8"
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        # An unknown charset name leaves UTF-8, the best guess.
        with contextlib.suppress(LookupError):
            encoding = codecs.lookup(declared.group(1).decode("ascii")).name
    return data.decode(encoding, errors="replace")


class _TextCollector(HTMLParser):
    """Readable text of an HTML page: headings as Markdown ``#``, blocks as paragraphs."""

    SKIPPED = frozenset({"script", "style", "nav", "head", "noscript", "template", "svg", "iframe", "object"})
    HEADINGS = {f"h{level}": level for level in range(1, 7)}
    BLOCKS = frozenset(
        {
            "address", "article", "aside", "blockquote", "body", "dd", "details", "div", "dl", "dt",
            "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "html", "li", "main",
            "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
        }
    )  # fmt: skip
    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._parts: list[str] = []
        self._skipping: list[str] = []
        self._heading_level = 0
        self._pre_depth = 0
        self._list_item = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body" and "head" in self._skipping:
            self._skipping.clear()  # an unclosed <head>
        if self._skipping or tag in self.SKIPPED:
            if tag not in self.VOID:
                self._skipping.append(tag)
            return
        if tag == "br":
            self._parts.append("\n")
        elif tag in ("td", "th"):
            if "".join(self._parts).strip():
                self._parts.append(" | ")  # cells of a row stay on one line
        elif tag in self.HEADINGS:
            self._flush()
            self._heading_level = self.HEADINGS[tag]
        elif tag in self.BLOCKS:
            self._flush()
            if tag == "pre":
                self._pre_depth += 1
            elif tag == "li":
                self._list_item = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and not self._skipping:
            self._parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag in self._skipping:
                while self._skipping and self._skipping.pop() != tag:
                    pass
            return
        if tag in self.HEADINGS or tag in self.BLOCKS:
            self._flush()
            if tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            # Source newlines are plain whitespace in HTML; only <br> and blocks break lines.
            self._parts.append(data if self._pre_depth else _HTML_SPACE.sub(" ", data))

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        raw = "".join(self._parts)
        self._parts = []
        if self._pre_depth:
            text = raw.strip("\n").rstrip()
        else:
            lines = (_SPACES.sub(" ", line).strip(" ") for line in raw.split("\n"))
            text = "\n".join(line for line in lines if line)
        if not text.strip():
            return
        if self._heading_level:
            text = f"{'#' * self._heading_level} {text.replace(chr(10), ' ')}"
        elif self._list_item:
            text = f"- {text}"
        self._heading_level = 0
        self._list_item = False
        self.paragraphs.append(text)


def html_to_text(html: str) -> str:
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return "\n\n".join(collector.paragraphs)


def pdf_to_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("the PDF is encrypted with a password; upload an unencrypted copy")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except ExtractionError:
        raise
    except (FileNotDecryptedError, DependencyError) as exc:
        raise ExtractionError(f"the PDF is encrypted and cannot be read: {exc}") from exc
    except PdfReadError as exc:
        raise ExtractionError(f"the PDF is corrupt or truncated: {exc}") from exc
    except Exception as exc:
        # pypdf reports some damaged files with plain ValueError/KeyError/TypeError...
        raise ExtractionError(f"the PDF could not be read ({type(exc).__name__}): {exc}") from exc
    text = "\n\n".join(page for page in pages if page)
    if not text:
        raise ExtractionError(
            "no text could be extracted from the PDF (a scanned PDF needs OCR, which is not supported)"
        )
    return text


def guess_title(text: str, filename: str) -> str:
    """The first heading of the text, else the file name without its extension."""
    title = first_heading(text) or PurePosixPath(filename.replace("\\", "/")).stem.strip() or "Untitled"
    return title[:TITLE_MAX_CHARS]
