"""structlog configuration, and the LOGGING dict that routes stdlib logs through it.

One line per event on stdout: JSON when ``JSON_LOGS`` is true (production, shipped to Loki),
readable key/value text otherwise (local development). Every line carries ``timestamp``,
``level`` (upper case), ``event`` and ``logger``; lines logged while serving a request also
``request_id``, ``user_id``, ``method`` and ``path``, and its ``request_finished`` line
``status_code`` and ``duration`` (seconds) (``commandcenter.middleware.RequestLogMiddleware``).
Secrets are redacted before rendering.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any, cast

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


# SECRET_KEYS' answer per field name: a line has about ten fields, mostly the same ones.
_secret_key_memo: dict[str, bool] = {}


def _is_secret_key(key: str) -> bool:
    found = _secret_key_memo.get(key)
    if found is None:
        found = SECRET_KEYS.search(key) is not None
        if len(_secret_key_memo) < 2048:  # field names are few; never grow without bound
            _secret_key_memo[key] = found
    return found


def redact_secrets(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # Only the values of existing keys are replaced, so the dict can be walked as it is.
    for key, value in event_dict.items():
        if key in SAFE_KEYS:
            continue
        if _is_secret_key(key):
            event_dict[key] = REDACTED
        elif type(value) is str:
            event_dict[key] = _scrub_text(value)
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
]
# For stdlib records only: their ``extra={...}`` fields (a structlog event has none).
FOREIGN_PRE_CHAIN: list[Any] = [*SHARED_PROCESSORS, structlog.stdlib.ExtraAdder()]


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


def _json_default(value: Any) -> Any:
    # As structlog's JSONRenderer: an object's own __structlog__(), else its repr.
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


# json.dumps(..., default=...) builds a new encoder on every call; this one is built once.
_json_encoder = json.JSONEncoder(default=_json_default)


def _to_json(event_dict: Any, **_: Any) -> str:
    return _json_encoder.encode(event_dict)


class Formatter(structlog.stdlib.ProcessorFormatter):
    """structlog's ``ProcessorFormatter`` that renders a structlog event without first
    copying its record (``logging.makeLogRecord``, a second ``LogRecord``) and without the
    stdlib formatting pass that follows: the processors' string is the line. The record is
    left as it is, so the copy is not needed; stdlib records take the usual way."""

    def format(self, record: logging.LogRecord) -> str:
        logger = record.__dict__.get("_logger")
        event = record.msg
        if logger is None or not isinstance(event, dict):
            return super().format(record)
        name = record.__dict__["_name"]  # _logger and _name: set by wrap_for_formatter
        if self.logger is not None:
            logger = self.logger
        # A copy: another handler may format the same record.
        ed: Any = {**event, "_record": record, "_from_structlog": True}
        for processor in self.processors:
            ed = processor(logger, name, ed)
        return cast(str, ed)


def build_logging(*, level: str, json_logs: bool) -> dict[str, Any]:
    """Return a ``LOGGING`` dict; also configures structlog to render through it."""
    configure_structlog()
    # Where each call was made from (a walk up the stack per record), the thread's and the
    # multiprocessing process's names: no line shows them, so records no longer collect them
    # (the Python logging HOWTO's "Optimization" switches; a stdlib call's stack_info=True
    # shows no stack any more, structlog's still does). The pid stays: gunicorn prints it.
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    final: list[Any] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        _uppercase_level,
        structlog.processors.format_exc_info,  # the full stack trace, in "exception"
        redact_secrets,
    ]
    if json_logs:
        final.append(structlog.processors.JSONRenderer(serializer=_to_json))
    else:
        final.append(structlog.dev.ConsoleRenderer(colors=False))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": Formatter,
                "processors": final,
                "foreign_pre_chain": FOREIGN_PRE_CHAIN,
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
            # RequestLogMiddleware logs every request (request_finished / request_failed);
            # Django's own per-response warnings would repeat them.
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "WARNING"},
            "celery": {"level": level},
        },
    }


def user_id_of(request: Any) -> Any:
    """The authenticated user's id, without loading a user nobody looked at (the lazy
    ``request.user`` of a request that did not need it stays unevaluated)."""
    user = request.__dict__.get("user")
    if isinstance(user, LazyObject):
        user = user._wrapped  # type: ignore[attr-defined]
        if user is empty:
            return None
    return getattr(user, "pk", None)
