"""``benchmarks.settings`` without the observability middleware (the "bare" side of
``benchmarks.middleware``).

Removed: ``commandcenter.middleware.RequestLogMiddleware`` (logging), django-prometheus'
``PrometheusBeforeMiddleware`` and ``PrometheusAfterMiddleware`` (metrics) and
``commandcenter.middleware.RequestIdMiddleware`` (request id); the database engine is Django's
own instead of django-prometheus' wrapper, which counts connections and times every query
(part of "metrics"). Everything else - the other middleware, apps, cache backend, logging
configuration, throttling - is the same as in ``benchmarks.settings``.
"""

from benchmarks.settings import *  # noqa: F403
from benchmarks.settings import DATABASES, MIDDLEWARE, PROMETHEUS_ENGINES

LOGGING_MIDDLEWARE = "commandcenter.middleware.RequestLogMiddleware"
METRICS_MIDDLEWARE = (
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "commandcenter.middleware.PrometheusAfterMiddleware",
)
REQUEST_ID_MIDDLEWARE = "commandcenter.middleware.RequestIdMiddleware"
OBSERVABILITY_MIDDLEWARE = (LOGGING_MIDDLEWARE, *METRICS_MIDDLEWARE, REQUEST_ID_MIDDLEWARE)

FULL_MIDDLEWARE = list(MIDDLEWARE)
MIDDLEWARE = [name for name in MIDDLEWARE if name not in OBSERVABILITY_MIDDLEWARE]

FULL_DATABASE_ENGINE = DATABASES["default"]["ENGINE"]
_unwrapped = {wrapper: engine for engine, wrapper in PROMETHEUS_ENGINES.items()}
DATABASES = {**DATABASES, "default": {**DATABASES["default"], "ENGINE": _unwrapped.get(FULL_DATABASE_ENGINE)}}
if DATABASES["default"]["ENGINE"] is None:
    raise RuntimeError(f"benchmarks.settings_bare: no plain engine known for {FULL_DATABASE_ENGINE}")
