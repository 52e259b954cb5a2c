"""What the Schemathesis runs share: the portal's own schema and in-process requests."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

# A few examples per operation keep the suite fast; the point is that odd input (huge
# numbers, empty strings, wrong types, missing fields) is refused with a 4xx.
fuzz_settings = settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def portal_schema():
    """Loaded at collection, from the portal itself (the schema view reads no database).
    Not through schemathesis.pytest.from_fixture: its lazy loader sets Function._nodeid,
    which pytest 9 no longer has."""
    return schemathesis.openapi.from_wsgi(
        "/api/openapi.json", get_wsgi_application(), headers={"Host": "testserver"}
    )


@pytest.fixture(autouse=True)
def same_connection(settings):
    """As Django's test client does: a request must not close the connection that holds
    this test's transaction when it starts or finishes."""
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def call_with_token(case, token: str):
    """The generated request, with the token; fails on any server error."""
    return case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
    )
