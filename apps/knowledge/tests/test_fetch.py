"""URL ingestion against a local HTTP server: the SSRF guard, limits, redirects."""

from __future__ import annotations

import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from apps.knowledge import services
from apps.knowledge.fetch import FetchError, check_url, fetch_url
from apps.knowledge.models import Document

LOOPBACK = ["127.0.0.1/32"]


def test_loopback_is_refused_by_default(httpserver: HTTPServer):
    httpserver.expect_request("/page").respond_with_data("secret", content_type="text/plain")
    with pytest.raises(FetchError, match="not a public address"):
        fetch_url(httpserver.url_for("/page"), max_bytes=1000, timeout=5, networks=[])
    assert httpserver.log == []  # refused before connecting


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://172.16.5.4/",
        "http://169.254.169.254/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
    ],
)
def test_private_addresses_are_refused(url):
    with pytest.raises(FetchError):
        check_url(url, [])


def test_allowed_networks_open_the_guard(httpserver: HTTPServer):
    httpserver.expect_request("/doc.md").respond_with_data("# Title\n\nBody", content_type="text/markdown")
    fetched = fetch_url(httpserver.url_for("/doc.md"), max_bytes=1000, timeout=5, networks=LOOPBACK)
    assert fetched.data == b"# Title\n\nBody"
    assert fetched.content_type == "text/markdown"
    assert fetched.filename == "doc.md"


def test_every_redirect_is_checked(httpserver: HTTPServer):
    httpserver.expect_request("/hop").respond_with_response(
        Response(status=302, headers={"Location": "http://127.0.0.2:9/internal"})
    )
    with pytest.raises(FetchError, match=r"127\.0\.0\.2"):
        fetch_url(httpserver.url_for("/hop"), max_bytes=1000, timeout=5, networks=LOOPBACK)


def test_redirects_are_followed_within_the_allowed_networks(httpserver: HTTPServer):
    httpserver.expect_request("/old").respond_with_response(Response(status=301, headers={"Location": "/new"}))
    httpserver.expect_request("/new").respond_with_data("moved here", content_type="text/plain")
    fetched = fetch_url(httpserver.url_for("/old"), max_bytes=1000, timeout=5, networks=LOOPBACK)
    assert fetched.data == b"moved here"
    assert fetched.url.endswith("/new")


def test_redirect_loops_end(httpserver: HTTPServer):
    httpserver.expect_request("/loop").respond_with_response(Response(status=302, headers={"Location": "/loop"}))
    with pytest.raises(FetchError, match="redirects more than"):
        fetch_url(httpserver.url_for("/loop"), max_bytes=1000, timeout=5, networks=LOOPBACK)


def test_size_limit(httpserver: HTTPServer):
    httpserver.expect_request("/big").respond_with_data("x" * 5000, content_type="text/plain")
    with pytest.raises(FetchError, match="larger than"):
        fetch_url(httpserver.url_for("/big"), max_bytes=1000, timeout=5, networks=LOOPBACK)


def test_error_statuses(httpserver: HTTPServer):
    httpserver.expect_request("/missing").respond_with_data("no", status=404)
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_url(httpserver.url_for("/missing"), max_bytes=1000, timeout=5, networks=LOOPBACK)


def test_slow_servers_time_out(httpserver: HTTPServer):
    def slow(request):
        time.sleep(2)
        return Response("late", content_type="text/plain")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than"):
        fetch_url(httpserver.url_for("/slow"), max_bytes=1000, timeout=0.5, networks=LOOPBACK)
    assert time.monotonic() - started < 2


@pytest.mark.django_db
def test_url_documents_are_fetched_stored_and_indexed(httpserver: HTTPServer, settings):
    settings.KNOWLEDGE_URL_ALLOWED_NETWORKS = LOOPBACK
    page = "<html><head><title>x</title><script>evil()</script></head><body><h1>Loki retention</h1>"
    page += "<p>Loki keeps logs for 720 hours when the compactor has retention enabled.</p></body></html>"
    httpserver.expect_request("/loki.html").respond_with_data(page, content_type="text/html; charset=utf-8")
    created = services.create_from_url(httpserver.url_for("/loki.html"))
    result = services.ingest(created.document.pk)
    document = Document.objects.get(pk=created.document.pk)
    assert result["status"] == "indexed", document.error
    assert document.title == "Loki retention"
    assert document.content_type == "html"
    assert document.file.name.endswith(".html")
    assert document.content_sha256
    passages = services.search("how long are logs kept?")
    assert passages[0]["document_id"] == document.pk
    assert "evil" not in passages[0]["chunk"]


@pytest.mark.django_db
def test_a_refused_url_ends_failed(settings):
    created = services.create_from_url("http://127.0.0.1:9/never")
    result = services.ingest(created.document.pk)
    assert result["status"] == "failed"
    assert "not a public address" in Document.objects.get(pk=created.document.pk).error
