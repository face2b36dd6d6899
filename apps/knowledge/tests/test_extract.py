"""detect_kind, extract_text and guess_title on real small files."""

from __future__ import annotations

import io
from pathlib import Path

import pypdf
import pytest

from apps.knowledge.extract import (
    ExtractionError,
    UnsupportedDocumentType,
    detect_kind,
    extract_text,
    guess_title,
    html_to_text,
)

DATA = Path(__file__).parent / "data"
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
ZIP_HEAD = b"PK\x03\x04\x14\x00\x06\x00"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def pdf_bytes(writer: pypdf.PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def encrypted_hello(user_password: str) -> bytes:
    writer = pypdf.PdfWriter()
    writer.append(io.BytesIO(read("hello.pdf")))
    writer.encrypt(user_password, owner_password="owner-secret", algorithm="RC4-128")
    return pdf_bytes(writer)


# --- detect_kind ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "content_type", "head", "kind"),
    [
        ("notes.txt", None, b"hello", "text"),
        ("README.md", "application/octet-stream", b"# Title", "markdown"),
        ("guide.MARKDOWN", None, b"text", "markdown"),
        ("page.HTM", None, b"<p>hi</p>", "html"),
        ("report.pdf", "application/pdf", b"%PDF-1.7\n", "pdf"),
        # The magic bytes win over a wrong name or content type.
        ("download", "application/octet-stream", b"%PDF-1.4\n%\xe2\xe3", "pdf"),
        ("report.txt", "text/plain", b"  \n%PDF-1.4", "pdf"),
        # No extension: the content type decides.
        ("page", "text/html; charset=utf-8", b"<html>", "html"),
        ("notes", "text/markdown", b"# Notes", "markdown"),
        ("script.py", "text/x-python", b"print('hi')", "text"),
        # Neither: the first bytes decide.
        ("LICENSE", None, b"Apache License\nVersion 2.0", "text"),
        ("index", None, b"<!DOCTYPE html>\n<html>", "html"),
        ("caf\u00e9.txt", None, "caf\u00e9 cr\u00e8me".encode()[:4], "text"),  # cut inside a character
    ],
)
def test_it_detects_supported_kinds(filename: str, content_type: str | None, head: bytes, kind: str) -> None:
    assert detect_kind(filename, content_type, head) == kind


@pytest.mark.parametrize(
    ("filename", "content_type", "head"),
    [
        ("photo.png", "image/png", PNG_HEAD),
        ("photo.txt", "text/plain", PNG_HEAD),  # a PNG renamed stays a PNG
        ("scan.jpg", None, b"\xff\xd8\xff\xe0\x00\x10JFIF"),
        ("archive.zip", "application/zip", ZIP_HEAD),
        ("letter.docx", None, ZIP_HEAD),
        ("letter.md", None, ZIP_HEAD),
        ("tool.exe", None, b"MZ\x90\x00\x03\x00"),
        ("tool", None, b"\x7fELF\x02\x01\x01"),
        ("data.bin", "application/octet-stream", b"\x00\x01\x02\x03"),
        ("sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"????"),
        ("notes.txt", None, b"text with a \x00 byte"),
        ("legacy.txt", None, b"caf\xe9 latin-1"),
    ],
)
def test_it_refuses_unsupported_kinds(filename: str, content_type: str | None, head: bytes) -> None:
    with pytest.raises(UnsupportedDocumentType, match=r"supported are plain text .*Markdown.*HTML.*PDF"):
        detect_kind(filename, content_type, head)


# --- text and Markdown ----------------------------------------------------------------------


def test_it_reads_plain_text() -> None:
    assert extract_text(read("plain.txt"), "text") == "Plain text line one.\nLine two."


def test_it_drops_the_bom_and_normalises_newlines() -> None:
    text = extract_text(read("bom.md"), "markdown")

    assert text == "# Notes with BOM\n\nCaf\u00e9 au lait."


def test_it_reads_utf16_with_a_bom() -> None:
    assert extract_text("\ufeff# Hi\r\nthere".encode("utf-16-le"), "markdown") == "# Hi\nthere"


def test_it_refuses_text_that_is_not_utf8() -> None:
    with pytest.raises(ExtractionError, match=r"not valid UTF-8 text .*offset 3"):
        extract_text(b"caf\xe9 au lait", "text")


def test_it_refuses_a_document_without_text() -> None:
    with pytest.raises(ExtractionError, match="no text"):
        extract_text(b"  \r\n\t\n", "markdown")


def test_it_refuses_an_unknown_kind() -> None:
    with pytest.raises(UnsupportedDocumentType, match="unknown document kind 'docx'"):
        extract_text(b"x", "docx")


# --- HTML -----------------------------------------------------------------------------------


def test_it_extracts_readable_text_from_html() -> None:
    text = extract_text(read("page.html"), "html")

    assert text.split("\n\n") == [
        "# Traefik & TLS",
        "Traefik obtains certificates from Let\u2019s Encrypt automatically \u2014 no cron job needed.",
        "Ports\u00a080 <and> 443 must be open.\nHTTP redirects to HTTPS.",
        "## Routers (v3)",
        "- Host rule",
        "- TLS resolver",
        "labels:\n  - traefik.enable=true\n    - indented line",
        "Name | Value",
        "entrypoint | websecure",
        "Caf\u00e9 cr\u00e8me \U0001f680",
        "Footer text",
    ]


def test_it_drops_scripts_styles_navigation_and_head() -> None:
    text = extract_text(read("page.html"), "html")

    for dropped in ("do not index me", "also dropped", "font-family", "Ignored page title", "Docs"):
        assert dropped not in text


def test_it_survives_an_unclosed_head_and_odd_markup() -> None:
    html = "<html><head><title>t</title><body><h3>Deep</h3><p>One<p>Two</b></i><img src=x alt=y>"

    assert html_to_text(html) == "### Deep\n\nOne\n\nTwo"


def test_it_uses_the_declared_html_charset() -> None:
    html = '<meta charset="iso-8859-1"><p>caf\xe9</p>'.encode("latin-1")

    assert extract_text(html, "html") == "caf\u00e9"


def test_it_replaces_invalid_bytes_in_html() -> None:
    assert extract_text(b"<p>bad \xff byte</p>", "html") == "bad \ufffd byte"


def test_it_refuses_html_without_text() -> None:
    with pytest.raises(ExtractionError, match="no text"):
        extract_text(b"<html><head><script>x()</script></head><body><nav>menu</nav></body></html>", "html")


# --- PDF ------------------------------------------------------------------------------------


def test_it_extracts_text_from_a_pdf() -> None:
    data = read("hello.pdf")

    assert detect_kind("hello.pdf", None, data[:1024]) == "pdf"
    assert extract_text(data, "pdf") == "Hello PDF"


def test_it_joins_pdf_pages_as_paragraphs() -> None:
    text = extract_text(read("two-pages.pdf"), "pdf")

    assert text == "Grafana dashboards\nare provisioned from files.\n\nPage two talks about Loki retention."


@pytest.mark.parametrize("length", [5, 120, 300, 450])
def test_it_reports_a_truncated_pdf(length: int) -> None:
    with pytest.raises(ExtractionError, match="corrupt or truncated"):
        extract_text(read("hello.pdf")[:length], "pdf")


def test_it_reports_a_corrupt_pdf() -> None:
    with pytest.raises(ExtractionError, match="PDF"):
        extract_text(b"%PDF-1.4\n" + b"\x00garbage" * 50, "pdf")


def test_it_reports_a_password_protected_pdf() -> None:
    with pytest.raises(ExtractionError, match="encrypted with a password"):
        extract_text(encrypted_hello("user-secret"), "pdf")


def test_it_reads_a_pdf_encrypted_without_a_user_password() -> None:
    # Owner-only protection (no printing, no copying) still lets anyone read it.
    assert extract_text(encrypted_hello(""), "pdf") == "Hello PDF"


def test_it_reports_a_pdf_without_text() -> None:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=612, height=792)

    with pytest.raises(ExtractionError, match=r"^no text .*OCR"):
        extract_text(pdf_bytes(writer), "pdf")


# --- titles ---------------------------------------------------------------------------------


def test_it_takes_the_title_from_the_first_heading() -> None:
    assert guess_title("intro\n\n```\n# not this\n```\n\n## Restore drills ##\n\n# Later", "x.md") == "Restore drills"
    assert guess_title(extract_text(read("page.html"), "html"), "page.html") == "Traefik & TLS"


def test_it_falls_back_to_the_file_name() -> None:
    assert guess_title("no heading here", "docs/runbook.final.md") == "runbook.final"
    assert guess_title("no heading", "C:\\Users\\me\\notes.txt") == "notes"
    assert guess_title("", "") == "Untitled"


def test_it_keeps_titles_short() -> None:
    assert len(guess_title("# " + "x" * 1000, "a.md")) == 300
