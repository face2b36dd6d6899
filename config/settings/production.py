"""Production: no defaults for secrets; refuses to start without them."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    ALLOWED_HOSTS_FROM_ENV,
    DATABASE_URL,
    FIELD_ENCRYPTION_KEY_FROM_ENV,
    SECRET_KEY_FROM_ENV,
)

_missing = [
    name
    for name, value in (
        ("SECRET_KEY", SECRET_KEY_FROM_ENV),
        ("ALLOWED_HOSTS", ALLOWED_HOSTS_FROM_ENV),
        ("DATABASE_URL", DATABASE_URL),
        ("FIELD_ENCRYPTION_KEY", FIELD_ENCRYPTION_KEY_FROM_ENV),
    )
    if not value
]
if _missing:
    raise ImproperlyConfigured(
        "Production settings need these environment variables, which are not set: " + ", ".join(_missing)
    )

DEBUG = False
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = ["rest_framework.renderers.JSONRenderer"]
