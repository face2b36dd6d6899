"""The doctor check of the language model that writes research summaries."""

from __future__ import annotations

import json

from pytest_httpserver import HTTPServer
from werkzeug import Response

from apps.research.health import check_llm


def test_it_is_ok_without_a_language_model():
    result = check_llm()
    assert result.status == "ok"
    assert result.detail.startswith("extractive summaries")


def test_it_looks_the_anthropic_model_up(settings, httpserver: HTTPServer):
    settings.ANTHROPIC_API_KEY = "sk-ant-test"
    settings.ANTHROPIC_BASE_URL = httpserver.url_for("/").rstrip("/")
    httpserver.expect_request("/v1/models/claude-sonnet-5-5", method="GET").respond_with_json(
        {
            "type": "model",
            "id": "claude-sonnet-5-5",
            "display_name": "Claude Sonnet 5.5",
            "created_at": "2026-06-01T00:00:00Z",
        }
    )
    result = check_llm()
    assert (result.status, result.detail) == ("ok", "anthropic claude-sonnet-5-5 answers")


def test_it_fails_on_a_rejected_openai_key(settings, httpserver: HTTPServer):
    settings.OPENAI_API_KEY = "sk-bad"
    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    settings.LLM_MODEL = "gpt-5.4"
    body = {
        "error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}
    }
    httpserver.expect_request("/v1/models/gpt-5.4", method="GET").respond_with_response(
        Response(json.dumps(body), status=401, content_type="application/json")
    )
    result = check_llm()
    assert result.status == "fail"
    assert result.detail.startswith("openai gpt-5.4: AuthenticationError: ")
    assert "Incorrect API key provided" in result.detail


def test_it_fails_when_the_key_is_missing(settings):
    settings.LLM_PROVIDER = "anthropic"
    result = check_llm()
    assert result.status == "fail"
    assert "needs ANTHROPIC_API_KEY" in result.detail
