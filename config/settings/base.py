"""Settings shared by every environment.

Every environment variable the application reads is read here, once, with a typed
django-environ call. ``local.py``, ``production.py`` and ``test.py`` only adjust.
Secrets can also be given as ``NAME_FILE`` (a path, e.g. a Docker secret).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import django_stubs_ext
from csp.constants import NONE, SELF, UNSAFE_INLINE

from commandcenter.envfiles import file_aware_env
from commandcenter.logging import build_logging, register_literal_secrets
from commandcenter.schedules import cron_schedule

# Lets the code subscript Django generics at run time (ModelAdmin[Model], QuerySet[Model]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = BASE_DIR / "var"

# NAME or, for secrets, NAME_FILE: the path of a file holding the value (a Docker secret).
env = file_aware_env()

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
# Reverse proxies in front of the app, each appending its peer to X-Forwarded-For: the client
# is the NUM_PROXIES-th address from the right (login lockout, API throttling). Production
# defaults to 1 (Traefik); 0 trusts no forwarded header.
NUM_PROXIES_FROM_ENV: int | None = env.int("NUM_PROXIES", default=None)
NUM_PROXIES = NUM_PROXIES_FROM_ENV if NUM_PROXIES_FROM_ENV is not None else 0
# Production only (the TLS proxy sets X-Forwarded-Proto); off where TLS ends elsewhere.
SECURE_SSL_REDIRECT_FROM_ENV = env.bool("SECURE_SSL_REDIRECT", default=True)

# --- applications ---------------------------------------------------------------------------
INSTALLED_APPS = [
    # First, so that its admin templates (base_site.html) come before Django's own.
    "apps.dashboard",
    # django.contrib.admin with the dashboard as the index page (apps/dashboard/admin_site.py).
    "apps.dashboard.admin_site.CommandCenterAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_prometheus",
    "django_structlog",
    "corsheaders",
    "csp",
    "axes",
    "import_export",
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
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "csp.middleware.CSPMiddleware",
    # Before anything that can answer (WhiteNoise, CommonMiddleware), so every API answer has CORS.
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "commandcenter.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request_finished / request_failed, and the request's fields on every line logged while
    # it is served (commandcenter.middleware.RequestLogMiddleware).
    "commandcenter.middleware.RequestLogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # An unreachable database: 503 instead of a 500 and its stack trace (commandcenter/errors.py).
    "commandcenter.errors.DatabaseUnavailableMiddleware",
    "commandcenter.middleware.PrometheusAfterMiddleware",
    # Last: turns the answer to a locked-out login into 429 (counted as such by the metrics).
    "axes.middleware.AxesMiddleware",
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
DB_CONNECT_TIMEOUT = env.int("DB_CONNECT_TIMEOUT", default=2)
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
    # Persistent connections, checked before reuse (a restarted PostgreSQL costs no error).
    # TLS to the server: DATABASE_URL's query string becomes the driver's options, e.g.
    # ?sslmode=verify-full&sslrootcert=/run/secrets/db-ca.pem (or ?sslmode=require).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A database host that does not answer costs a request this long, then 503 (not a hung
    # worker); the driver's default waits for minutes. psycopg's minimum is 2 s.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", DB_CONNECT_TIMEOUT)
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
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=7200)
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
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
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
        # DRF's SearchFilter, with to-many lookups (tags__name) as one subquery (apps/core/search.py).
        "apps.core.search.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"anon": API_THROTTLE_ANON, "user": API_THROTTLE_USER},
    # Throttles count per client address: the same one the login lockout uses.
    "NUM_PROXIES": NUM_PROXIES,
    # DRF's parsers, but JSON nested too deeply is a 400 (apps/core/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # An unreachable database answers 503 {"detail": ...}, not 500 (commandcenter/errors.py).
    "EXCEPTION_HANDLER": "commandcenter.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Command Center API",
    "DESCRIPTION": "Repositories, technology radar, research tasks and background jobs.",
    "VERSION": APP_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI from the installed drf-spectacular-sidecar (static files), never a CDN;
    # no badge from the public online validator either.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
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
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
ATTACHMENT_MAX_UPLOAD_MB = env.int("ATTACHMENT_MAX_UPLOAD_MB", default=20)
# File types a research-task attachment may have (by extension, lower case, without the dot).
ATTACHMENT_ALLOWED_EXTENSIONS = env.list(
    "ATTACHMENT_ALLOWED_EXTENSIONS",
    default=[
        "pdf",
        "md",
        "markdown",
        "txt",
        "rst",
        "csv",
        "tsv",
        "json",
        "yaml",
        "yml",
        "xml",
        "log",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "webp",
        "svg",
        "docx",
        "xlsx",
        "pptx",
        "odt",
        "ods",
        "odp",
        "zip",
        "tar",
        "gz",
    ],
)

# Request bodies read into memory (Django's defaults, stated): JSON and form bodies over
# 2.5 MB are refused with 400; uploaded files above it go to a temporary file, and each
# upload endpoint enforces its own size and type limits (KNOWLEDGE_MAX_UPLOAD_MB,
# ATTACHMENT_MAX_UPLOAD_MB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 100

# --- admin exports and imports (django-import-export) ---------------------------------------
# Exporting a change list needs the view permission, importing the add permission.
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_USE_TRANSACTIONS = True
# The uploaded file between the preview and the confirmation: in the cache (Redis, shared by
# every replica, with a TTL), not on one container's disk.
IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.CacheStorage"

# --- security headers, CORS, login lockout (every environment) -----------------------------
# HSTS, the TLS redirect and secure cookies are production-only (production.py).
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# /health and /metrics are answered before SecurityMiddleware; exempt all the same, in case
# the middleware order changes (Docker and Prometheus speak plain HTTP to the container).
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
# Everything the admin, the browsable API and /api/docs/ load comes from this origin (Swagger
# UI is served from drf-spectacular-sidecar's static files, its init script from a URL, not
# inline). Inline style attributes remain in the admin and DRF templates: style-src allows them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
}
# Browsers on these origins may call the API (with an API key; no cookies cross origins).
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_EXPOSE_HEADERS = ["X-Request-ID"]

# Admin login brute-force protection (django-axes): after AXES_FAILURE_LIMIT failed logins
# from one client address, that address is refused (429) for AXES_COOLOFF_MINUTES.
# `manage.py axes_reset` (or axes_reset_ip ADDRESS) lifts a lockout. API keys never go through
# Django's authenticate(), so they are not counted.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_MINUTES = env.int("AXES_COOLOFF_MINUTES", default=30)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "commandcenter.clientip.client_ip"
# No start-up banner: commands such as create_api_key print their result alone on stdout.
AXES_VERBOSE = False

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

# --- research runs --------------------------------------------------------------------------
# Summary writer: "" picks anthropic when ANTHROPIC_API_KEY is set, else openai when
# OPENAI_API_KEY is set, else the extractive summary (top passages, no language model).
LLM_PROVIDER = env.str("LLM_PROVIDER", default="").strip().lower()
if LLM_PROVIDER not in {"", "anthropic", "openai", "extractive"}:
    raise ValueError(f"LLM_PROVIDER={LLM_PROVIDER!r}: use anthropic, openai, extractive, or leave it empty")
LLM_MODEL = env.str("LLM_MODEL", default="")  # empty: the provider's default (apps/research/llm.py)
LLM_TIMEOUT = env.int("LLM_TIMEOUT", default=120)
LLM_MAX_TOKENS = env.int("LLM_MAX_TOKENS", default=1500)
ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env.str("ANTHROPIC_BASE_URL", default="")
RESEARCH_PASSAGES = env.int("RESEARCH_PASSAGES", default=8)
# Soft limit: the run ends as failed with the reason; the hard limit (60 s later) kills the
# worker child. Both stay well under the broker's visibility_timeout (Celery section).
RESEARCH_TIME_LIMIT = env.int("RESEARCH_TIME_LIMIT", default=900)
RESEARCH_MAX_RETRIES = env.int("RESEARCH_MAX_RETRIES", default=5)
_research_schedule = cron_schedule(env.str("RESEARCH_RECURRING_SCHEDULE", default="0 6 * * 1"))
if _research_schedule is not None:
    CELERY_BEAT_SCHEDULE["research-recurring"] = {
        "task": "apps.research.tasks.run_recurring_research",
        "schedule": _research_schedule,
    }

# --- repository sync (GitHub) ----------------------------------------------------------------
# GitHub Enterprise: https://HOST/api/v3; its web host is then the one "add from URL" accepts.
GITHUB_API_URL = env.str("GITHUB_API_URL", default="https://api.github.com").rstrip("/")
GITHUB_TOKEN = env.str("GITHUB_TOKEN", default="")
GITHUB_WEBHOOK_SECRET = env.str("GITHUB_WEBHOOK_SECRET", default="")
GITHUB_TIMEOUT = env.float("GITHUB_TIMEOUT", default=10.0)
# A GitHub answer younger than this is reused from the cache without asking again; older
# ones are revalidated with their ETag (a 304 costs no rate limit).
GITHUB_CACHE_SECONDS = env.int("GITHUB_CACHE_SECONDS", default=300)
# Research runs sync a linked repository first when its last sync is older than this.
REPOSITORY_STALE_MINUTES = env.int("REPOSITORY_STALE_MINUTES", default=60)
_repository_sync_schedule = cron_schedule(env.str("REPOSITORY_SYNC_SCHEDULE", default="0 * * * *"))
if _repository_sync_schedule is not None:
    CELERY_BEAT_SCHEDULE["sync-repositories"] = {
        "task": "apps.repositories.tasks.sync_all_repositories",
        "schedule": _repository_sync_schedule,
    }

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
    ANTHROPIC_API_KEY,
    BACKUP_S3_SECRET_ACCESS_KEY,
    GITHUB_TOKEN,
    GITHUB_WEBHOOK_SECRET,
)
# Requests are logged by commandcenter.middleware.RequestLogMiddleware; django-structlog
# carries the request's fields (request_id, user_id...) into the Celery tasks it starts.
DJANGO_STRUCTLOG_CELERY_ENABLED = True
