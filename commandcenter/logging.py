"""structlog configuration and the LOGGING dict that routes stdlib logs through it.

One line per event on stdout: JSON when ``JSON_LOGS`` is true (production, shipped to
Loki), coloured key/value text otherwise (local development).
"""

from __future__ import annotations

from typing import Any

import structlog

SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),
]


def _uppercase_level(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # Upper case so that a LogQL line filter `|= "ERROR"` matches.
    level = event_dict.get("level")
    if isinstance(level, str):
        event_dict["level"] = level.upper()
    return event_dict


def configure_structlog() -> None:
    structlog.configure(
        processors=[
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
    if json_logs:
        renderer: list[Any] = [
            _uppercase_level,
            structlog.processors.format_exc_info,  # full stack trace in "exception"
            structlog.processors.JSONRenderer(),
        ]
    else:
        renderer = [_uppercase_level, structlog.dev.ConsoleRenderer(colors=False)]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
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
            "django.server": {"level": "INFO"},
            "celery": {"level": level},
        },
    }
