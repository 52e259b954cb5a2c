"""What the integration API's tests share: a token as its issuer gets one, a request with
it, and per-token rate limits that start empty."""

import pytest
from django.core.cache import cache

from portal.api import services


def api_token(issuer, library, scopes, name: str = "Website") -> str:
    """The plaintext of a new token of ``library`` with ``scopes``, issued by ``issuer``."""
    checked = services.check_issue_token(issuer, library, list(scopes))
    return services.do_issue_token(issuer, library, name, checked)[1]


def bearer_get(client, token: str, url: str):
    return client.get(url, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Autouse where imported: the per-token rate limit lives in the cache."""
    cache.clear()
    yield
    cache.clear()
