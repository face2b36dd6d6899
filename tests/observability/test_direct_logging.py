"""The short way a structlog event takes to its handlers (``commandcenter.logging.DirectLogger``)
and the JSON serializer: the same lines as the stdlib way, the same levels and errors."""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from commandcenter.logging import DirectLogger, Formatter, _json_encoder, _to_json, build_logging


class RecordingStream(io.StringIO):
    """A stream that says how many times it was written to."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


class Subclassed(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler the short way does not know: the stdlib way is taken."""


def formatter(json_logs: bool = True) -> Formatter:
    config = build_logging(level="INFO", json_logs=json_logs)["formatters"]["structlog"]
    factory = config.pop("()")
    return factory(**config)  # type: ignore[no-any-return]


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def isolated() -> Iterator[tuple[logging.Logger, Any]]:
    """A logger of its own (not propagating to the root, where pytest keeps its capture
    handlers) and a structlog logger on it, through the project's configuration."""
    name = f"direct.test.{uuid.uuid4().hex[:8]}"
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, structlog.get_logger(name)
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        structlog.contextvars.clear_contextvars()


def add_handler(logger: logging.Logger, cls: type[logging.StreamHandler] = logging.StreamHandler) -> RecordingStream:  # type: ignore[type-arg]
    # pytest attaches its capture handler to non-propagating loggers when a test starts; with
    # it there, every line would take the stdlib way.
    for handler in list(logger.handlers):
        if type(handler).__module__.startswith("_pytest"):
            logger.removeHandler(handler)
    stream = RecordingStream()
    handler = cls(stream)
    handler.setFormatter(formatter())
    logger.addHandler(handler)
    return stream


def without_timestamp(line: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in line.items() if key != "timestamp"}


def test_structlog_loggers_wrap_the_stdlib_logger_of_the_same_name(isolated):
    logger, log = isolated
    bound = log.bind()
    assert isinstance(bound._logger, DirectLogger)
    assert bound._logger.name == logger.name
    assert bound.handlers == logger.handlers  # the rest of the stdlib interface is the logger's
    # A logger asked for without a name is named after its caller's module, not this one's.
    assert structlog.get_logger().bind()._logger.name == __name__


@pytest.fixture
def records(monkeypatch) -> list[logging.LogRecord]:
    """The LogRecords made: none when a line takes the short way."""
    made: list[logging.LogRecord] = []
    make = logging.Logger.makeRecord

    def counting(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(self, *args, **kwargs)
        made.append(record)
        return record

    monkeypatch.setattr(logging.Logger, "makeRecord", counting)
    return made


def test_the_short_way_writes_the_line_the_stdlib_way_writes(isolated, records):
    logger, log = isolated
    short = add_handler(logger)
    structlog.contextvars.bind_contextvars(request_id="r-1", method="GET")
    log.info("request_finished", status_code=200, duration=0.000123, token="ghp_abcdefghijklmnopqrstuvwxyz0123")
    assert records == []  # no LogRecord: the short way
    logger.removeHandler(logger.handlers[0])
    stdlib = add_handler(logger, Subclassed)
    log.info("request_finished", status_code=200, duration=0.000123, token="ghp_abcdefghijklmnopqrstuvwxyz0123")
    assert len(records) == 1  # the stdlib way
    [direct_line], [stdlib_line] = lines(short), lines(stdlib)
    assert without_timestamp(direct_line) == without_timestamp(stdlib_line)
    assert direct_line["logger"] == logger.name
    assert direct_line["level"] == "INFO"
    assert direct_line["request_id"] == "r-1"
    assert direct_line["token"] == "[REDACTED]"
    assert direct_line["timestamp"].endswith("Z")
    assert short.writes == 1  # the line and its newline in one write


def test_every_handler_gets_the_line_and_a_foreign_one_sends_all_the_stdlib_way(isolated, records):
    logger, log = isolated
    first, second = add_handler(logger), add_handler(logger)
    log.warning("twice")
    assert [line["event"] for line in lines(first) + lines(second)] == ["twice", "twice"]
    assert records == []

    third = add_handler(logger, Subclassed)
    log.warning("three times")
    assert len(records) == 1  # one record, as the stdlib does it
    assert [line["event"] for line in lines(third)] == ["three times"]
    assert lines(first)[-1]["event"] == "three times"


def test_levels_filters_and_logging_disable_are_obeyed(isolated):
    logger, log = isolated
    stream = add_handler(logger)
    logger.setLevel(logging.WARNING)
    log.info("dropped by the logger's level")
    logger.setLevel(logging.DEBUG)
    logger.handlers[0].setLevel(logging.ERROR)
    log.warning("dropped by the handler's level")
    logger.handlers[0].setLevel(logging.NOTSET)
    logging.disable(logging.INFO)
    try:
        log.info("dropped by logging.disable")
    finally:
        logging.disable(logging.NOTSET)
    logger.addFilter(lambda record: "secret" not in str(record.msg))
    log.info("a secret event")
    log.info("kept")
    assert [line["event"] for line in lines(stream)] == ["kept"]


def test_an_exception_is_rendered_with_its_stack_trace(isolated, records):
    logger, log = isolated
    stream = add_handler(logger)
    try:
        raise ValueError("bad value")
    except ValueError:
        log.exception("it_failed", job="j-1")
    [line] = lines(stream)
    assert records == []
    assert line["level"] == "ERROR"
    assert "Traceback" in line["exception"]
    assert "ValueError: bad value" in line["exception"]
    assert line["job"] == "j-1"


def test_a_stream_that_fails_is_reported_never_raised(isolated, monkeypatch):
    logger, log = isolated

    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(32, "Broken pipe")

    add_handler(logger)
    handler = logger.handlers[0]
    handler.setStream(Broken())  # type: ignore[attr-defined]
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", reported.append)
    log.info("lost", detail=1)  # does not raise
    [record] = reported
    assert record.levelno == logging.INFO
    assert record.msg["event"] == "lost"  # type: ignore[index]


def test_a_stdlib_record_is_unchanged(isolated):
    logger, _ = isolated
    stream = add_handler(logger)
    logger.warning("disk at %d%%", 91, extra={"mount": "/var"})
    [line] = lines(stream)
    assert (line["event"], line["mount"], line["level"]) == ("disk at 91%", "/var", "WARNING")


def test_the_console_renderer_takes_the_short_way_too(isolated):
    logger, log = isolated
    stream = add_handler(logger)
    logger.handlers[0].setFormatter(formatter(json_logs=False))
    log.info("readable", count=3)
    text = stream.getvalue()
    assert "readable" in text
    assert "count=3" in text
    assert text.count("\n") == 1


@dataclasses.dataclass
class Point:
    x: int


class WithStructlog:
    def __structlog__(self) -> str:
        return "custom"


@pytest.mark.parametrize(
    "event",
    [
        {"event": "x", "n": 1, "f": 0.000123, "none": None, "flag": True, "items": [1, "a", (2, 3)]},
        {"event": "x", "nested": {"a": {"b": [1, 2]}}, "int_keys": {1: "one", 2: "two"}},
        {"event": "x", "when": datetime.datetime(2026, 11, 27, 6, 0, tzinfo=datetime.UTC)},
        {"event": "x", "day": datetime.date(2026, 11, 27), "id": uuid.UUID(int=7)},
        {"event": "x", "point": Point(1), "object": WithStructlog(), "set": {1}},
        {"event": "x", "big": 2**70},  # beyond 64 bits: the stdlib encoder
        {"event": "x", "text": "h\u00e9llo \u2603"},  # not ASCII: the stdlib encoder escapes it
    ],
)
def test_the_json_lines_say_what_the_stdlib_encoder_says(event):
    line = _to_json(event)
    assert line.isascii()
    assert json.loads(line) == json.loads(_json_encoder.encode(event))


def test_the_json_line_of_a_request_is_compact():
    assert (
        _to_json({"event": "request_finished", "status_code": 200}) == '{"event":"request_finished","status_code":200}'
    )
