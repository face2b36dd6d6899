"""WSGI application on ``benchmarks.settings_bare``, for the "bare" gunicorn of
``benchmarks.middleware`` (``benchmarks.server`` names ``benchmarks.settings`` in the
environment; this module overrides it before Django reads it)."""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings_bare"

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
