import os

import pytest

from tests import factories


@pytest.fixture
def small_tree(db):
    """Consortium -> 2 systems -> 2 branches each."""
    return factories.tree(systems=2, branches=2)


def pytest_collection_modifyitems(config, items):
    """Browser journeys are slow by nature: ``-m "not slow"`` leaves them out."""
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.slow)


# One browser for every test that drives one (tests/e2e against the live server,
# tests/journeys against bin/demo): Playwright's sync API runs once per process.
CHROMIUM = os.environ.get("CONCORD_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    from playwright import sync_api

    if not os.path.exists(CHROMIUM):
        # Never a silent skip: the browser journeys are part of the suite.
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium package")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()
