"""OpenAPI description of the API-key authentication (drf-spectacular extension)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
