"""Settings for the benchmark server: the project's own, minus throttling, plus bench views.

All middleware, authentication, permission, pagination and filter settings stay as in
``config.settings.base``. DATABASE_URL is set by ``benchmarks.db`` before this is imported.
"""

from config.settings.base import *  # noqa: F403
from config.settings.base import ALLOWED_HOSTS, REST_FRAMEWORK

DEBUG = False
ALLOWED_HOSTS = [*ALLOWED_HOSTS, *(h for h in ("127.0.0.1", "localhost") if h not in ALLOWED_HOSTS)]
ROOT_URLCONF = "benchmarks.urls"

# Throttling stays on (its cache round trip is part of every request), at rates no run reaches.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": "1000000/second", "user": "1000000/second"},
}
