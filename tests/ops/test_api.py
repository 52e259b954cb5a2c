"""The integration API: hashed per-library tokens with scopes, shown once and audited;
the OpenAPI schema; rate limits."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from portal.api import services
from portal.api.models import ApiToken
from portal.audit.models import AuditEntry
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR
from tests import factories
from tests.api_support import bearer_get, fresh_rate_limits  # noqa: F401 - fresh_rate_limits: autouse

URL = "/api/v1/library"


@pytest.fixture
def world(db):
    root = factories.consortium()
    library = factories.library(root, name="Riverside Library System", website="https://r.example")
    return {
        "root": root,
        "library": library,
        "office": factories.member(root, CONSORTIUM_ADMIN),
        "director": factories.member(library, DIRECTOR),
    }


def issue(world, scopes=("library:read",), **kwargs):
    scopes = services.check_issue_token(world["office"], world["library"], list(scopes))
    return services.do_issue_token(world["office"], world["library"], "Koha", scopes, **kwargs)


def get(client, token, url=URL):
    return bearer_get(client, token, url)


def test_a_token_reads_its_own_library(client, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        token, plaintext = issue(world)
    response = get(client, plaintext)
    assert response.status_code == 200
    assert response.json() == {
        "code": world["library"].code,
        "name": "Riverside Library System",
        "kind": world["library"].kind,
        "library_type": world["library"].library_type or "",
        "website": "https://r.example",
    }
    token.refresh_from_db()
    assert token.last_used_at is not None
    # Only a digest is stored; the plaintext appears nowhere in the row.
    assert plaintext.split("_", 2)[2] not in str(vars(token))
    entry = AuditEntry.objects.get(action="api_token.issued")
    assert entry.data["prefix"] == token.prefix
    assert plaintext.split("_", 2)[2] not in str(entry.data)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer ", "Bearer cnc_nope_nope", "Bearer nonsense", "Token whatever"],
)
def test_requests_without_a_valid_token_get_401(client, world, header):
    issue(world)
    headers = {"Authorization": header} if header is not None else {}
    assert client.get(URL, headers=headers).status_code == 401


def test_a_wrong_secret_with_a_real_prefix_gets_401(client, world):
    _token, plaintext = issue(world)
    kind, prefix, secret = plaintext.split("_", 2)
    assert get(client, f"{kind}_{prefix}_{secret[:-1]}x").status_code == 401


def test_revoked_and_expired_tokens_get_401(client, world, django_capture_on_commit_callbacks):
    token, plaintext = issue(world)
    with django_capture_on_commit_callbacks(execute=True):
        services.do_revoke_token(world["office"], token)
    assert get(client, plaintext).status_code == 401
    assert AuditEntry.objects.filter(action="api_token.revoked").count() == 1

    _old, expired = issue(world, expires_at=timezone.now() - timedelta(seconds=1))
    assert get(client, expired).status_code == 401


def test_a_token_without_the_scope_gets_403(client, world):
    _token, plaintext = issue(world, scopes=["policies:read"])
    response = get(client, plaintext)
    assert response.status_code == 403
    assert "library:read" in response.json()["detail"]


def test_only_the_office_issues_tokens_and_only_known_scopes(world):
    with pytest.raises(PermissionDenied):
        services.check_issue_token(world["director"], world["library"], ["library:read"])
    with pytest.raises(ValidationError):
        services.check_issue_token(world["office"], world["library"], ["everything"])
    with pytest.raises(ValidationError):
        services.check_issue_token(world["office"], world["library"], [])
    assert not ApiToken.objects.exists()


def test_the_openapi_schema_is_served(client, db):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/library" in schema["paths"]
    assert (
        "BearerAuth" in str(schema["components"]["securitySchemes"])
        or schema["components"]["securitySchemes"]
    )


def test_each_token_is_rate_limited(client, world, settings, monkeypatch):
    from portal.api.api import api

    throttle = api.throttle[0]
    monkeypatch.setattr(throttle, "num_requests", 3)
    _token, plaintext = issue(world)
    _other, other = issue(world)
    codes = [get(client, plaintext).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert get(client, other).status_code == 200  # another token has its own budget
