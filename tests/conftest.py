import os

import pytest

from tests import factories


@pytest.fixture
def small_tree(db):
    """Consortium -> 2 systems -> 2 branches each."""
    return factories.tree(systems=2, branches=2)


def pytest_configure(config):
    """Test databases are copies of one migrated template (tests/database_template.py)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if "postgresql" not in database["ENGINE"]:
        return
    from tests import database_template

    server = "postgres://{USER}:{PASSWORD}@{HOST}:{PORT}/{NAME}".format(**database)
    database.setdefault("TEST", {})["TEMPLATE"] = database_template.ensure(server)


def pytest_itemcollected(item):
    """Browser journeys are slow by nature: ``-m "not slow"`` leaves them out."""
    if item.get_closest_marker("e2e"):
        item.add_marker(pytest.mark.slow)


# Tests that drive a browser: in parallel they all run in one process, one after another.
# The journeys share the two demos they start. The others restore the migrated database
# after each test (serialized_rollback): a transactional test of another kind flushing the
# same database in between leaves what post_migrate recreates, and the restore then clashes.
BROWSER_TESTS = (
    "tests/journeys/",
    "tests/e2e/",
    "tests/sso/test_oidc_sign_in.py",
    "tests/sso/test_saml_sign_in.py",
)


def _a_journey(nodeid: str) -> bool:
    return nodeid.startswith("tests/journeys/")


@pytest.hookimpl(trylast=True)  # after pytest has grouped the tests by their fixtures
def pytest_collection_modifyitems(config, items):
    """The journeys go first: the longest piece of work starts while the other processes
    take the many short tests. Every test that restores the database must be a browser test
    as listed above, or it would share a process with tests that flush it."""
    journeys = [item for item in items if _a_journey(item.nodeid)]
    if journeys:
        chosen = set(journeys)
        items[:] = journeys + [item for item in items if item not in chosen]
    for item in items:
        marker = item.get_closest_marker("django_db")
        restores = marker is not None and marker.kwargs.get("serialized_rollback")
        if restores and not item.nodeid.startswith(BROWSER_TESTS):
            raise pytest.UsageError(f"{item.nodeid}: add its file to BROWSER_TESTS")


def pytest_xdist_make_scheduler(config, log):
    """In parallel (``bin/test``: ``-n auto --dist loadgroup``), every test is its own unit of
    work except the browser tests, which stay together in one process (BROWSER_TESTS says
    why). (Done here rather than with ``xdist_group`` marks, which pytest-xdist 3.8 can no
    longer attach to a test's id under pytest 9.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "browser" if nodeid.startswith(BROWSER_TESTS) else nodeid

    return BrowserTestsTogether(config, log)


@pytest.fixture(autouse=True)
def built_in_roles_after_a_restore(request):
    """A browser test restores the database from its snapshot, which leaves out the roles
    (``TEST_NON_SERIALIZED_APPS``) and sends no ``post_migrate``: the built-in roles that
    the previous test's flush removed are put back as a migrated site has them."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("serialized_rollback"):
        return
    request.getfixturevalue("_django_db_helper")  # the restore first
    from portal.members.grants import ensure_builtin_roles
    from portal.members.roles import forget_definitions

    ensure_builtin_roles()
    forget_definitions()


_busy: dict[str, list[float]] = {}


def pytest_runtest_logreport(report):
    """Time spent in tests, per process (set-up and teardown included): is one process the
    long pole? Printed at the end of a parallel run."""
    node = getattr(report, "node", None)
    if node is not None:
        busy = _busy.setdefault(node.gateway.id, [0, 0.0])
        busy[0] += report.when == "call"
        busy[1] += report.duration


def pytest_terminal_summary(terminalreporter):
    if _busy:
        terminalreporter.section("time in tests, per process")
        for worker, (tests, seconds) in sorted(_busy.items()):
            terminalreporter.write_line(f"{worker}: {tests} tests, {seconds:.0f} s")


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
    # From here on Playwright's sync API keeps an event loop in this process's main thread,
    # and Django would refuse every ORM call a test makes (between browser steps, or in a
    # later test in this process) without this; processes that never start a browser run
    # without it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()
