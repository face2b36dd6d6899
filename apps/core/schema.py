"""OpenAPI extensions (drf-spectacular): the API-key authentication, and URL fields that
may be blank."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from rest_framework import serializers


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.authentication.APIKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API key from `manage.py create_api_key USERNAME` or the admin: `Authorization: Bearer cc_…`"
            ),
        }


class ProjectSessionScheme(SessionScheme):
    """The project's session authentication (it also names the user in the log lines)."""

    target_class = "apps.core.authentication.SessionAuthentication"


def _shows_blank_model_field(field: serializers.URLField) -> bool:
    """A read-only field showing a ``blank=True`` model field: it may answer ""."""
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    source = field.source
    if not field.read_only or model is None or not isinstance(source, str) or not source or "." in source:
        return False
    try:
        return bool(model._meta.get_field(source).blank)
    except FieldDoesNotExist:
        return False


class BlankableURLFieldExtension(OpenApiSerializerFieldExtension):
    """A read-only URL field of a ``models.URLField(blank=True)``: ``format: uri`` or "".

    drf-spectacular already adds the empty string for fields with ``allow_blank``, but DRF
    drops ``allow_blank`` from read-only fields, so their schema said ``format: uri`` alone
    while an unset value is ``""``. Same shape as drf-spectacular's own."""

    target_class = "rest_framework.fields.URLField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if not _shows_blank_model_field(self.target):
            return schema
        outer_keys = {"readOnly", "writeOnly", "nullable", "deprecated", "description", "title"}
        inner = {key: schema.pop(key) for key in list(schema) if key not in outer_keys}
        return {"oneOf": [inner, {"type": "string", "maxLength": 0}], **schema}
