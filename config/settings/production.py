"""Production: no defaults for secrets; refuses to start without them. Behind a TLS proxy
(Traefik) that sets X-Forwarded-Proto and appends the client to X-Forwarded-For."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    ALLOWED_HOSTS_FROM_ENV,
    DATABASE_URL,
    FIELD_ENCRYPTION_KEY_FROM_ENV,
    NUM_PROXIES_FROM_ENV,
    SECRET_KEY_FROM_ENV,
    SECURE_SSL_REDIRECT_FROM_ENV,
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

# --- TLS ------------------------------------------------------------------------------------
# The proxy terminates TLS and says so in X-Forwarded-Proto; plain HTTP is redirected, except
# /health and /metrics (SECURE_REDIRECT_EXEMPT in base.py; both are answered before this
# middleware anyway), which Docker and Prometheus request over HTTP by container address.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = SECURE_SSL_REDIRECT_FROM_ENV
SECURE_HSTS_SECONDS = 31_536_000  # one year
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

# One proxy (Traefik) unless NUM_PROXIES says otherwise.
NUM_PROXIES = NUM_PROXIES_FROM_ENV if NUM_PROXIES_FROM_ENV is not None else 1
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES

# --- static files ---------------------------------------------------------------------------
# Hashed names (cached for ever by browsers) and precompressed copies, made by collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = ["rest_framework.renderers.JSONRenderer"]
