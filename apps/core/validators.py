from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

MAX_JSON_BYTES = 64 * 1024


def validate_json_object(value: Any) -> dict[str, Any]:
    """Free-form ``metadata``: a JSON object of bounded size."""
    if not isinstance(value, dict):
        raise serializers.ValidationError("Expected a JSON object.")
    if len(json.dumps(value)) > MAX_JSON_BYTES:
        raise serializers.ValidationError(f"Too large: at most {MAX_JSON_BYTES // 1024} KiB of JSON.")
    return value
