"""structlog configuration, the LOGGING dict that routes stdlib logs through it, and the
request fields added to django-structlog's events.

One line per event on stdout: JSON when ``JSON_LOGS`` is true (production, shipped to Loki),
readable key/value text otherwise (local development). Every line carries ``timestamp``,
``level`` (upper case), ``event`` and ``logger``; lines logged while serving a request also
``request_id``, ``user_id``, ``method`` and ``path``, and its ``request_finished`` line
``status_code`` and ``duration`` (seconds). Secrets are redacted before rendering.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

import structlog
from django.utils.functional import LazyObject, empty

REDACTED = "[REDACTED]"
# Keys whose values are never written out, wherever they appear in an event.
SECRET_KEYS = re.compile(
    r"(^|_)(password|passwd|secret|secret_key|token|access_token|api_key|apikey|authorization|cookie|"
    r"key_hash|session|csrftoken|signature)$",
    re.IGNORECASE,
)
# Secrets that may hide inside free text (a repr, an error message, a URL).
SECRET_PATTERNS = [
    (re.compile(r"\bcc_([0-9a-f]{8})_[A-Za-z0-9_-]{8,}"), r"cc_\1_" + REDACTED),  # this app's API keys
    (re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE), r"\1 " + REDACTED),
    (re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{4})[A-Za-z0-9]{16,}"), r"\1" + REDACTED),  # GitHub tokens
    (re.compile(r"\b(sk-[A-Za-z0-9-]{2})[A-Za-z0-9_-]{16,}"), r"\1" + REDACTED),  # LLM provider keys
    (re.compile(r"(://[^:/@\s]+:)[^@/\s]+@"), r"\1" + REDACTED + "@"),  # passwords in URLs
]
_literal_secrets: list[str] = []


def register_literal_secrets(*values: str) -> None:
    """Values (SECRET_KEY, FIELD_ENCRYPTION_KEY...) to be redacted verbatim wherever they appear."""
    for value in values:
        if value and len(value) >= 8 and value not in _literal_secrets:
            _literal_secrets.append(value)


# One cheap search decides whether a string needs the substitutions at all.
SECRET_HINT = re.compile(r"cc_|bearer|basic|token|gh[pousr]_|sk-|://", re.IGNORECASE)
# Fields the application itself fills with values that cannot hold a secret.
SAFE_KEYS = frozenset(
    {"timestamp", "level", "logger", "request_id", "method", "status_code", "duration", "user_id", "ip", "task_id"}
)


def _scrub_text(text: str) -> str:
    if SECRET_HINT.search(text):
        for pattern, replacement in SECRET_PATTERNS:
            text = pattern.sub(replacement, text)
    for secret in _literal_secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _scrub(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return _scrub_text(value)
    if depth > 4:
        return value
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and SECRET_KEYS.search(k) else _scrub(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    return value


def redact_secrets(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key, value in list(event_dict.items()):
        if key in SAFE_KEYS:
            continue
        if SECRET_KEYS.search(key):
            event_dict[key] = REDACTED
        elif isinstance(value, str | Mapping | list | tuple):
            event_dict[key] = _scrub(value)
        elif value is not None and not isinstance(value, int | float | bool):
            # Objects (a request, an exception) are rendered as text: scrub that text.
            event_dict[key] = _scrub_text(repr(value) if key == "request" else str(value))
    return event_dict


def _uppercase_level(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # Upper case so that a LogQL line filter `|= "ERROR"` matches.
    level = event_dict.get("level")
    if isinstance(level, str):
        event_dict["level"] = level.upper()
    return event_dict


SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    structlog.stdlib.ExtraAdder(),
]


def configure_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def build_logging(*, level: str, json_logs: bool) -> dict[str, Any]:
    """Return a ``LOGGING`` dict; also configures structlog to render through it."""
    configure_structlog()
    final: list[Any] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        _uppercase_level,
        structlog.processors.format_exc_info,  # the full stack trace, in "exception"
        redact_secrets,
    ]
    if json_logs:
        final.append(structlog.processors.JSONRenderer())
    else:
        final.append(structlog.dev.ConsoleRenderer(colors=False))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": final,
                "foreign_pre_chain": SHARED_PROCESSORS,
            },
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "structlog",
            },
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # django-structlog logs every request (request_finished / request_failed); Django's
            # own per-response warnings would repeat them.
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "WARNING"},
            "celery": {"level": level},
        },
    }


# --- django-structlog signal receivers (connected in apps.core.apps.CoreConfig.ready) --------


def bind_request_fields(request: Any, logger: Any, log_kwargs: dict[str, Any], **_: Any) -> None:
    structlog.contextvars.bind_contextvars(
        method=request.method, path=request.path, ip=request.META.get("REMOTE_ADDR"), user_id=None
    )


def _user_id(request: Any) -> Any:
    """The authenticated user's id, without loading a user nobody looked at (the lazy
    ``request.user`` of a request that did not need it stays unevaluated)."""
    user = request.__dict__.get("user")
    if isinstance(user, LazyObject):
        user = user._wrapped  # type: ignore[attr-defined]
        if user is empty:
            return None
    return getattr(user, "pk", None)


def _finish(request: Any, log_kwargs: dict[str, Any], status_code: int) -> None:
    log_kwargs.pop("code", None)
    log_kwargs.pop("request", None)
    log_kwargs["status_code"] = status_code
    log_kwargs["user_id"] = _user_id(request)
    started = getattr(request, "started_at", None)
    if started is not None:
        log_kwargs["duration"] = round(time.perf_counter() - started, 6)


def add_response_fields(request: Any, response: Any, logger: Any, log_kwargs: dict[str, Any], **_: Any) -> None:
    _finish(request, log_kwargs, response.status_code)


def add_failure_fields(request: Any, logger: Any, log_kwargs: dict[str, Any], **_: Any) -> None:
    _finish(request, log_kwargs, 500)
