"""The application's custom Prometheus metrics (the registry of DESIGN.md §3).

Every metric is defined here, once. Label values must stay bounded: operation names and
statuses, never ids or paths. In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set, as
under gunicorn and Celery) the gauges aggregate as their ``multiprocess_mode`` says.
"""

from __future__ import annotations

from django.conf import settings
from prometheus_client import Counter, Gauge, Histogram

repository_operations = Counter(
    "commandcenter_repository_operations_total",
    "Repository operations by outcome.",
    ["operation", "status"],
)
technology_operations = Counter(
    "commandcenter_technology_operations_total",
    "Technology operations by outcome.",
    ["operation", "status"],
)
research_task_duration = Histogram(
    "commandcenter_research_task_duration_seconds",
    "Duration of research jobs.",
    ["task_type"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)
active_research_tasks = Gauge(
    "commandcenter_active_research_tasks",
    "Research jobs running right now.",
    multiprocess_mode="livesum",
)
rag_operations = Counter(
    "commandcenter_rag_operations_total",
    "Knowledge base operations by outcome.",
    ["operation", "status"],
)
rag_query_duration = Histogram(
    "commandcenter_rag_query_duration_seconds",
    "Duration of knowledge base queries.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
cache_operations = Counter(
    "commandcenter_cache_operations_total",
    "Cache look-ups by result.",
    ["operation", "result"],
)
backup_last_success = Gauge(
    "commandcenter_backup_last_success_timestamp_seconds",
    "Unix time of the last successful backup, per component.",
    ["component"],
    multiprocess_mode="max",
)
backup_duration = Histogram(
    "commandcenter_backup_duration_seconds",
    "Duration of backups, per component.",
    ["component"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)
backup_size = Gauge(
    "commandcenter_backup_size_bytes",
    "Size of the last backup, per component.",
    ["component"],
    multiprocess_mode="mostrecent",
)
backup_failures = Counter(
    "commandcenter_backup_failures_total",
    "Failed backups, per component.",
    ["component"],
)
backup_last_verified = Gauge(
    "commandcenter_backup_last_verified_timestamp_seconds",
    "Unix time of the last successful restore drill.",
    multiprocess_mode="max",
)
backup_verify_failures = Counter(
    "commandcenter_backup_verify_failures_total",
    "Failed restore drills.",
)
# An info metric as a constant-1 gauge: prometheus_client's Info type is not supported in
# multiprocess mode, and Prometheus stores both the same way.
app_info = Gauge(
    "commandcenter_app_info",
    "Application version and environment.",
    ["version", "environment"],
    multiprocess_mode="max",
)


def _status(success: bool) -> str:
    return "success" if success else "failure"


def track_repository_operation(operation: str, success: bool = True) -> None:
    repository_operations.labels(operation=operation, status=_status(success)).inc()


def track_technology_operation(operation: str, success: bool = True) -> None:
    technology_operations.labels(operation=operation, status=_status(success)).inc()


def track_rag_operation(operation: str, success: bool = True) -> None:
    rag_operations.labels(operation=operation, status=_status(success)).inc()


def track_cache_operation(operation: str, result: str) -> None:
    cache_operations.labels(operation=operation, result=result).inc()


def set_app_info() -> None:
    app_info.labels(version=settings.APP_VERSION, environment=settings.ENVIRONMENT).set(1)
