"""Schemathesis against the policies operations of /api/openapi.json, with a policy to find.

The portal-wide run (tests/ops/test_schemathesis.py) has no policy in its data, so its
requests to /api/v1/policies/{code} only ever meet a 404. Here a published policy (the
schema's example code), a draft of it and local procedures exist: generated requests never
get a server error, and no answer ever carries the draft's or a local procedure's text.
"""

import pytest
from django.core.cache import cache

from knowledge_base.policies.services.procedures import do_save_local_procedure
from portal.api import services
from portal.members.roles import CONSORTIUM_ADMIN
from tests import factories
from tests.api_fuzz import (  # noqa: F401 - same_connection: an autouse fixture
    call_with_token,
    fuzz_settings,
    portal_schema,
    same_connection,
)

from .conftest import new_policy, policy_library, revise

SECRETS = ("Draft clause", "Draft title", "Kept in the red box", "Alarm code 1234")

schema = portal_schema().include(tag="policies")


@pytest.fixture
def token(db):
    cache.clear()  # the per-token rate limit lives in the cache
    root = factories.consortium()
    system = factories.library(root)
    branch = factories.library(system)
    other = factories.library(root)
    office = factories.member(root, CONSORTIUM_ADMIN)
    page = new_policy(policy_library(), code="CIRC-004")
    revise(page, ["Loans last four weeks."], material=False)
    revise(page, ["Draft clause."], publish=False, title="Draft title")
    do_save_local_procedure(None, page, branch, "Kept in the red box.")
    do_save_local_procedure(None, page, other, "Alarm code 1234.")
    scopes = services.check_issue_token(office, branch, ["policies:read"])
    _token, plaintext = services.do_issue_token(office, branch, "Schemathesis", scopes)
    yield plaintext
    cache.clear()


@schema.parametrize()
@fuzz_settings
def test_no_server_error_and_nothing_unpublished(case, token):
    response = call_with_token(case, token)
    for secret in SECRETS:
        assert secret not in response.text


def test_the_example_code_is_found(client, token):
    """The schema's example is what the run above starts from: it must reach the policy."""
    response = client.get("/api/v1/policies/CIRC-004", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert {op.path for op in (r.ok() for r in schema.get_all_operations())} == {
        "/api/v1/policies/",
        "/api/v1/policies/{code}",
        "/api/v1/policies/{code}/versions",
    }
