"""Local HTTP servers speaking the providers' protocols, and knowledge-base helpers."""

from __future__ import annotations

import json
from typing import Any

from django.core.files.base import ContentFile
from werkzeug import Request, Response

from apps.knowledge import services as knowledge
from apps.knowledge.models import Document

ANTHROPIC_TEXT = "Chroma fits the knowledge base: embedded for tests, a server for production [1]."
OPENAI_TEXT = "Use the Chroma server in production; the on-disk store is for one process [3]."


def anthropic_message(text: str = ANTHROPIC_TEXT, model: str = "claude-sonnet-5-5") -> dict[str, Any]:
    """A Messages API answer (POST /v1/messages)."""
    return {
        "id": "msg_01TestMessage",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 812, "output_tokens": 64},
    }


def anthropic_error(status: int) -> Response:
    kind = {401: "authentication_error", 400: "invalid_request_error", 429: "rate_limit_error"}.get(status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": f"test error {status}"}}
    return Response(json.dumps(body), status=status, content_type="application/json")


def openai_completion(text: str = OPENAI_TEXT, model: str = "gpt-5.4-mini") -> dict[str, Any]:
    """A Chat Completions answer (POST /v1/chat/completions)."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_790_000_000,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 812, "completion_tokens": 64, "total_tokens": 876},
    }


def json_response(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=200, content_type="application/json")


def request_json(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(request.get_data(as_text=True))
    return data


def add_document(title: str, text: str, **fields: Any) -> Document:
    """A document ingested into the knowledge base (local embeddings, the test's Chroma)."""
    created = knowledge.create_from_file(ContentFile(text.encode(), name=f"{title}.md"), title=title, **fields)
    result = knowledge.ingest(created.document.pk)
    assert result["status"] == "indexed", result
    return Document.objects.get(pk=created.document.pk)
