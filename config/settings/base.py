"""Settings shared by every environment.

Every environment variable the application reads is read here, once, with a typed
django-environ call. ``local.py``, ``production.py`` and ``test.py`` only adjust.
Secrets can also be given as ``NAME_FILE`` (a path, e.g. a Docker secret).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from pathlib import Path

import django_stubs_ext
import environ

from commandcenter.logging import build_logging, register_literal_secrets
from commandcenter.schedules import cron_schedule

# Lets the code subscript Django generics at run time (ModelAdmin[Model], QuerySet[Model]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = BASE_DIR / "var"

env = environ.FileAwareEnv()

# --- environment ----------------------------------------------------------------------------
ENVIRONMENT = env.str("ENVIRONMENT", default="local")
APP_VERSION = "0.1.0"

SECRET_KEY_FROM_ENV = env.str("SECRET_KEY", default="")
SECRET_KEY = SECRET_KEY_FROM_ENV or "insecure-local-development-key-change-me"

# Tokens stored in the database (repository access tokens) are encrypted with this key,
# separate from SECRET_KEY so that a restored backup still decrypts after SECRET_KEY rotates.
# Several comma-separated Fernet keys are accepted: the first encrypts, all decrypt.
FIELD_ENCRYPTION_KEY_FROM_ENV = env.str("FIELD_ENCRYPTION_KEY", default="")
FIELD_ENCRYPTION_KEYS = [k.strip() for k in FIELD_ENCRYPTION_KEY_FROM_ENV.split(",") if k.strip()] or [
    base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()
]

DEBUG = False
ALLOWED_HOSTS_FROM_ENV = env.list("ALLOWED_HOSTS", default=[])
ALLOWED_HOSTS = ALLOWED_HOSTS_FROM_ENV or ["127.0.0.1", "localhost", "[::1]"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
ADMIN_URL = env.str("DJANGO_ADMIN_URL", default="admin/").strip("/") + "/"

# --- applications ---------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "django_prometheus",
    "django_structlog",
    "apps.core",
    "apps.jobs",
    "apps.repositories",
    "apps.technologies",
    "apps.research",
    "apps.knowledge",
    "apps.backups",
]

MIDDLEWARE = [
    # /health and /metrics, before the host check, the TLS redirect and the request metrics.
    "commandcenter.middleware.OperationalEndpointsMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "commandcenter.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication, so that user_id is known for the request's log lines.
    "django_structlog.middlewares.RequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "commandcenter.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "commandcenter.urls"
WSGI_APPLICATION = "commandcenter.wsgi.application"
ASGI_APPLICATION = "commandcenter.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
DATABASES = {"default": env.db_url_config(DATABASE_URL or f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# django-prometheus' engine wrappers count connections, queries and errors per database.
PROMETHEUS_ENGINES = {
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}
_engine = DATABASES["default"]["ENGINE"]
DATABASES["default"]["ENGINE"] = PROMETHEUS_ENGINES.get(_engine, _engine)
if _engine == "django.db.backends.sqlite3":
    # The web server, the Celery worker and Beat share one SQLite file under `make run`:
    # WAL lets readers and a writer work together, IMMEDIATE takes the write lock at BEGIN
    # (no lock upgrade deadlock), and the timeout makes a writer wait instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = 60
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache ----------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CACHE_DEFAULT_TIMEOUT = 300
if REDIS_URL:
    CACHES = {
        "default": {
            # Counts hits/misses/errors and bypasses an unreachable Redis (commandcenter/cache.py).
            "BACKEND": "commandcenter.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "cc",
            # Every cache key has a TTL: with a shared Redis under volatile-lru only cache
            # keys can be evicted, never the broker's queued jobs.
            "TIMEOUT": CACHE_DEFAULT_TIMEOUT,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "commandcenter.cache.LocMemCache",
            "LOCATION": "commandcenter",
            "TIMEOUT": CACHE_DEFAULT_TIMEOUT,
        }
    }

# --- Celery ---------------------------------------------------------------------------------
# The filesystem transport ignores the host; naming one keeps kombu from warning about it.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://localhost/"
CELERY_BROKER_DIR = VAR_DIR / "celery"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "store_processed": False,
    }
else:
    # With the Redis broker, a job taken by a worker whose main process is killed outright
    # comes back only after this many seconds (a killed prefork child is requeued at once
    # through reject_on_worker_lost). It must exceed the longest task's time limit.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 7200}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 3600
CELERY_TASK_SOFT_TIME_LIMIT = 3300
# Task state and results live in apps.jobs (fed by Celery signals), not a result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# celery-exporter (queue length, worker liveness) learns from Celery's events.
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

JOB_RETENTION_DAYS = env.int("JOB_RETENTION_DAYS", default=30)
_job_prune_schedule = cron_schedule(env.str("JOB_PRUNE_SCHEDULE", default="30 3 * * *"))
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
if _job_prune_schedule is not None:
    CELERY_BEAT_SCHEDULE["prune-job-history"] = {
        "task": "apps.jobs.tasks.prune_job_history",
        "schedule": _job_prune_schedule,
    }

# --- REST API -------------------------------------------------------------------------------
API_THROTTLE_ANON = env.str("API_THROTTLE_ANON", default="60/minute")
API_THROTTLE_USER = env.str("API_THROTTLE_USER", default="5000/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that a request without credentials gets 401 + WWW-Authenticate: Bearer.
        "apps.core.authentication.APIKeyAuthentication",
        "apps.core.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.core.permissions.ModelPermissions"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.StandardPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "apps.core.filters.FilterBackend",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"anon": API_THROTTLE_ANON, "user": API_THROTTLE_USER},
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Command Center API",
    "DESCRIPTION": "Repositories, technology radar, research tasks and background jobs.",
    "VERSION": APP_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "TechnologyStatusEnum": "apps.technologies.choices.TechnologyStatus",
        "ResearchTaskStatusEnum": "apps.research.choices.ResearchTaskStatus",
        "SyncStatusEnum": "apps.repositories.choices.SyncStatus",
        "JobStateEnum": "apps.jobs.choices.JobState",
    },
}

# --- auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = f"/{ADMIN_URL}login/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
ATTACHMENT_MAX_UPLOAD_MB = env.int("ATTACHMENT_MAX_UPLOAD_MB", default=20)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# --- knowledge base -------------------------------------------------------------------------
# One process may open an on-disk store (CHROMA_PATH); web + worker share a Chroma server (CHROMA_URL).
CHROMA_PATH = Path(env.str("CHROMA_PATH", default=str(VAR_DIR / "chroma")))
CHROMA_URL = env.str("CHROMA_URL", default="")
EMBEDDING_BACKEND = env.str("EMBEDDING_BACKEND", default="local")
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="")
OPENAI_EMBEDDING_MODEL = env.str("OPENAI_EMBEDDING_MODEL", default="text-embedding-3-small")
KNOWLEDGE_MAX_UPLOAD_MB = env.int("KNOWLEDGE_MAX_UPLOAD_MB", default=20)
KNOWLEDGE_URL_TIMEOUT = env.int("KNOWLEDGE_URL_TIMEOUT", default=20)
# Networks that URL ingestion may reach although private (SSRF guard); empty: public only.
KNOWLEDGE_URL_ALLOWED_NETWORKS = env.list("KNOWLEDGE_URL_ALLOWED_NETWORKS", default=[])
KNOWLEDGE_CACHE_TIMEOUT = env.int("KNOWLEDGE_CACHE_TIMEOUT", default=600)

# --- backups --------------------------------------------------------------------------------
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(BASE_DIR / "backups")))
RETENTION_DAYS = env.int("RETENTION_DAYS", default=30)
BACKUP_RESTORE_LOCK_TIMEOUT = env.str("BACKUP_RESTORE_LOCK_TIMEOUT", default="30s")
# Off-site copy to S3-compatible storage: on when a bucket is named.
BACKUP_S3_BUCKET = env.str("BACKUP_S3_BUCKET", default="")
BACKUP_S3_ENDPOINT_URL = env.str("BACKUP_S3_ENDPOINT_URL", default="")
BACKUP_S3_ACCESS_KEY_ID = env.str("BACKUP_S3_ACCESS_KEY_ID", default="")
BACKUP_S3_SECRET_ACCESS_KEY = env.str("BACKUP_S3_SECRET_ACCESS_KEY", default="")
BACKUP_S3_PREFIX = env.str("BACKUP_S3_PREFIX", default="commandcenter/")
BACKUP_S3_REGION = env.str("BACKUP_S3_REGION", default="")
_backup_schedule = cron_schedule(env.str("BACKUP_SCHEDULE", default="0 2 * * *"))
if _backup_schedule is not None:
    CELERY_BEAT_SCHEDULE["backup"] = {"task": "apps.backups.tasks.scheduled_backup", "schedule": _backup_schedule}
_verify_schedule = cron_schedule(env.str("VERIFY_SCHEDULE", default="0 4 * * 0"))
if _verify_schedule is not None:
    CELERY_BEAT_SCHEDULE["verify-backup"] = {"task": "apps.backups.tasks.verify_latest", "schedule": _verify_schedule}

# --- metrics --------------------------------------------------------------------------------
# Set for gunicorn and Celery prefork: every process writes its samples there and one scrape
# aggregates them. The directory is emptied by the supervisor at start (gunicorn's on_starting,
# `make run`), never by a worker.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
PROMETHEUS_EXPORT_MIGRATIONS = False
METRICS_ALLOWED_IPS = env.list(
    "METRICS_ALLOWED_IPS",
    default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
)
METRICS_BASIC_AUTH = env.str("METRICS_BASIC_AUTH", default="")
# A Celery worker serves its own /metrics on this port when set (compose: 9540).
CELERY_METRICS_PORT = env.int("CELERY_METRICS_PORT", default=0)

# --- logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
JSON_LOGS = env.bool("JSON_LOGS", default=False)
LOGGING = build_logging(level=LOG_LEVEL, json_logs=JSON_LOGS)
register_literal_secrets(
    SECRET_KEY,
    *FIELD_ENCRYPTION_KEYS,
    METRICS_BASIC_AUTH.partition(":")[2],
    OPENAI_API_KEY,
    BACKUP_S3_SECRET_ACCESS_KEY,
)
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# RequestIdMiddleware has validated (or replaced) the incoming X-Request-ID.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG  # request_finished is enough at INFO
# The peer address and the user are added by commandcenter.logging (cheaper: no ipware
# lookup, no forced session load; the user is known once DRF or the admin authenticated).
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
DJANGO_STRUCTLOG_USER_ID_FIELD = None
