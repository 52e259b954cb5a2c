"""A real browser against a live server, shared by every journey in tests/e2e/.

Journeys take ``page`` (a fresh browser context each, so no cookies leak between them) and
``live_server``; they are marked ``e2e`` and use a transactional database, because the
server thread reads what the test writes.
"""

import pytest
from django.core.cache import cache

from tests import factories


@pytest.fixture(autouse=True)
def wagtail_site(transactional_db):
    """Every journey starts with the site that migrations made: an earlier transactional
    test may have emptied the tables it lives in."""
    return factories.ensure_site()


@pytest.fixture
def page(browser, live_server):
    """A new tab in a new browser context, pointed at the live server."""
    cache.clear()  # rate limits and used TOTP codes live in the cache
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
    cache.clear()
