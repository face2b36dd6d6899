"""JSON from clients, nested at most ``MAX_JSON_DEPTH`` levels.

Python's JSON decoder recurses once per level: ``"[" * 100000`` raised ``RecursionError``
(a 500), and a document just under the interpreter's limit parsed but could not be encoded
again (validation, the database, the answer). Deeper than ``MAX_JSON_DEPTH`` is a 400.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 100
TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels."


def nesting_depth(value: Any) -> int:
    """Levels of arrays and objects in a decoded JSON value (iterative: no recursion)."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_JSON_DEPTH:
            pending.extend((child, depth + 1) for child in children)
    return deepest


def loads(text: str | bytes) -> Any:
    """``json.loads`` that raises ``ValueError`` for a document nested too deeply."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(TOO_DEEP) from None
    if nesting_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(TOO_DEEP)
    return value


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; too deep a document is a ParseError (400)."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - {TOO_DEEP}") from None
        if nesting_depth(data) > MAX_JSON_DEPTH:
            raise ParseError(f"JSON parse error - {TOO_DEEP}")
        return data


class JSONField(serializers.JSONField):
    """DRF's JSONField; a form field's JSON text nested too deeply is a validation error."""

    default_error_messages = {"too_deep": TOO_DEEP}

    def to_internal_value(self, data: Any) -> Any:
        try:
            value = super().to_internal_value(data)
        except RecursionError:
            self.fail("too_deep")
        if nesting_depth(value) > MAX_JSON_DEPTH:
            self.fail("too_deep")
        return value
