"""Schemathesis against /api/openapi.json: generated requests to every operation of the
integration API, with a token carrying every known scope, never get a server error.

The portal runs in-process as its WSGI application, so the requests see this test's
database. The examples per operation are few, to keep the suite fast; the point is that
odd input (huge numbers, empty strings, wrong types, missing fields) is refused with a 4xx.
"""

import pytest
from django.core.cache import cache

from plugins.announcements import services as announcements
from portal.api import services
from portal.members.roles import CONSORTIUM_ADMIN
from tests import factories
from tests.api_fuzz import (  # noqa: F401 - same_connection: an autouse fixture
    call_with_token,
    fuzz_settings,
    portal_schema,
    same_connection,
)

schema = portal_schema()


@pytest.fixture
def token(db):
    """A token of a branch, with every scope the core and the plugins know, and some data
    for the read operations to find."""
    cache.clear()  # the per-token rate limit lives in the cache
    root = factories.consortium()
    system = factories.library(root, name="Riverside Library System")
    branch = factories.library(system, name="Riverside Main")
    office = factories.member(root, CONSORTIUM_ADMIN)
    draft = announcements.Draft(title="Closed on Monday", body="<p>Holiday.</p>", everyone=True)
    announcements.check_publish_announcement(office, draft)
    announcements.do_publish_announcement(office, draft)
    scopes = services.check_issue_token(office, branch, list(services.known_scopes()))
    _token, plaintext = services.do_issue_token(office, branch, "Schemathesis", scopes)
    yield plaintext
    cache.clear()


@schema.parametrize()
@fuzz_settings
def test_no_server_error(case, token):
    call_with_token(case, token)


def test_the_schema_lists_the_operations():
    """The run above is only worth something if the schema names the endpoints."""
    paths = set(schema.raw_schema["paths"])
    assert {"/api/v1/library", "/api/v1/announcements/"} <= paths
