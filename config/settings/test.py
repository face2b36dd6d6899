"""Test settings: fast hashing, in-memory broker; real PostgreSQL/Redis when given."""

import os
import tempfile

from .base import *  # noqa: F403
from .base import CELERY_BROKER_DIR, REDIS_URL

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests that need a real broker (the Celery worker tests) connect to Redis themselves;
# everything else publishes into an in-process memory transport that nothing consumes.
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
# The real Redis URL (if any) stays available to the tests that need it.
TEST_REDIS_URL = REDIS_URL
TEST_BROKER_DIR = CELERY_BROKER_DIR
API_THROTTLE_USER = "100000/minute"
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"anon": "100000/minute", "user": "100000/minute"}
# Static files are not collected for tests; serve them from the finders instead.
WHITENOISE_AUTOREFRESH = True

# A file, not the in-memory default, when the tests run on SQLite: the backup engine copies
# the database file with SQLite's online backup API, as it does in production.
if "sqlite" in DATABASES["default"]["ENGINE"]:
    _test_db = os.path.join(tempfile.gettempdir(), f"commandcenter-test-{os.getpid()}.sqlite3")
    DATABASES["default"]["TEST"] = {"NAME": _test_db}
