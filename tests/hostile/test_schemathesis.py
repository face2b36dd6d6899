"""Every operation of ``/api/schema/`` fuzzed in-process (WSGI) with a superuser's API key:
no 5xx, and every documented answer matches its schema and media type."""

from __future__ import annotations

import ipaddress
import itertools
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.hostile.conftest import World

pytestmark = pytest.mark.hostile

# Bounded: 10 generated examples per operation (positive and negative data), no shrinking
# (a failure is reported as found), no example database. The coverage phase (thousands of
# boundary requests, about 2 minutes) is off; the targeted tests beside this one send the
# hostile boundaries on purpose.
MAX_EXAMPLES = 10

application = get_wsgi_application()
# The schema the app serves, fetched through the app itself (an anonymous GET; no database).
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/", application, config=SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
)

# No 5xx; a documented answer matches its schema and media type. Not status_code_conformance:
# the schema documents the success answers, and error answers (400, 404) have DRF's shape.
# Throttling: the test settings allow 100,000 requests a minute, so no (undocumented) 429.
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
_turn = itertools.count()
_real_getaddrinfo = socket.getaddrinfo


def _local_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    """``localhost`` and literal addresses resolve; any other name is unknown, so nothing
    leaves the machine. A name is IDNA-encoded first, as the real resolver does (and fails)."""
    text = host.decode() if isinstance(host, bytes) else str(host)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if text != "localhost":
            text.encode("idna")
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _local_getaddrinfo)


@pytest.fixture
def in_test_transaction() -> Iterator[None]:
    """The WSGI handler closes the database connection at the end of each request, which
    would end the test's transaction: Django's test client turns that off, so do we."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_within_its_schema(
    case: Any, world: World, offline: None, in_test_transaction: None
) -> None:
    # Every other example names the existing objects, so detail routes reach real rows.
    if case.path_parameters and next(_turn) % 2 == 0:
        for name, value in world.path_values(case.operation.path).items():
            if name in case.path_parameters:
                case.path_parameters[name] = value
    case.call_and_validate(headers={"Authorization": f"Bearer {world.key}"}, checks=CHECKS)
