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


# Tests that drive a browser against a live server restore the migrated database at their
# start (serialized_rollback) and leave it flushed at their end. The hooks below make that
# invisible to the tests around them, whichever process runs them and in whatever order:
# the database is emptied before the first of a run of them (a transactional test of
# another kind may have left what post_migrate recreates, which the restore would clash
# with) and restored after the last. In parallel each file of them is one unit of work,
# so that is paid once a file rather than once a test.
BROWSER_TESTS = (
    "tests/journeys/",
    "tests/e2e/",
    "tests/sso/test_oidc_sign_in.py",
    "tests/sso/test_saml_sign_in.py",
)


# Files whose tests share a world built once for the module (a seeded demo, the permission
# matrix's consortium, an installed plugin): one unit of work each, so one process builds
# it rather than each process that happens to take one of its tests.
WORLD_ONCE = (
    "tests/core/test_architecture.py",
    "tests/core/test_demo_seeders.py",
    "tests/core/test_plugins.py",
    "tests/core/test_seed_demo.py",
    "tests/test_permission_matrix.py",
)


def _a_journey(nodeid: str) -> bool:
    return nodeid.startswith("tests/journeys/")


def _restores(item) -> bool:
    marker = item.get_closest_marker("django_db") if item is not None else None
    return bool(marker and marker.kwargs.get("serialized_rollback"))


@pytest.hookimpl(trylast=True)  # after pytest has grouped the tests by their fixtures
def pytest_collection_modifyitems(config, items):
    """The journeys go first: the longest piece of work starts while the other processes
    take the many short tests. A test that restores the database must be listed in
    BROWSER_TESTS, so that its file is scheduled as one unit."""
    journeys = [item for item in items if _a_journey(item.nodeid)]
    # Then the files kept together: big units of work are best handed out early.
    together = [item for item in items if item.nodeid.startswith(WORLD_ONCE)]
    first = journeys + together
    if first:
        chosen = set(first)
        items[:] = first + [item for item in items if item not in chosen]
    for item in items:
        if _restores(item) and not item.nodeid.startswith(BROWSER_TESTS):
            raise pytest.UsageError(f"{item.nodeid}: add its file to BROWSER_TESTS")
        if _shares_a_world(item) and not item.nodeid.startswith(WORLD_ONCE + BROWSER_TESTS):
            raise pytest.UsageError(f"{item.nodeid}: add its file to WORLD_ONCE")


def _shares_a_world(item) -> bool:
    """The test uses a fixture of ours that lives longer than a test and shorter than the
    run (a module's or a class's)."""
    info = getattr(item, "_fixtureinfo", None)
    for definitions in info.name2fixturedefs.values() if info else ():
        fixture = definitions[-1]
        if fixture.scope in ("module", "class", "package") and fixture.baseid.startswith("tests"):
            return True
    return False


def pytest_xdist_make_scheduler(config, log):
    """In parallel (``bin/test``: ``--dist loadgroup``), every test is its own unit of work
    except the journeys, which share the two demos they start and so stay in one process,
    and the other browser tests and the files in ``WORLD_ONCE``, one unit per file (see
    above). (Done here rather than
    with ``xdist_group`` marks, which pytest-xdist 3.8 can no longer attach to a test's id
    under pytest 9.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if _a_journey(nodeid):
                return "journeys"
            if nodeid.startswith(BROWSER_TESTS + WORLD_ONCE):
                return nodeid.split("::", 1)[0]
            return nodeid

    return BrowserTestsTogether(config, log)


_last_test_here: list = [None]
# The migrated database as Django serialized it when it made the test database, by alias.
_snapshot: dict[str, str] = {}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's, with the snapshot of the migrated database where every connection
    object finds it. Django leaves it on the connection object of the moment; once a test
    starts a browser, Playwright switches the execution context and this process is handed
    new connection objects, on which Django's restore silently did nothing and its flush
    re-ran post_migrate. On the class, every one of them has it (one database, so one
    snapshot)."""
    from django.db import connections

    for alias in connections:
        contents = getattr(connections[alias], "_test_serialized_contents", None)
        if contents:
            _snapshot[alias] = contents
            type(connections[alias])._test_serialized_contents = contents
    assert len(_snapshot) <= 1, "one snapshot per connection class: one database only"


def _with_database(config, work) -> None:
    from pytest_django.plugin import blocking_manager_key

    with config.stash[blocking_manager_key].unblock():
        work()


def _forget_rows_by_id() -> None:
    """After a restore, the caches that remember rows by id forget them: a flush that sent
    post_migrate made new content types, and the restore brought the old ones back. (Not
    before the restore: it looks content types up as it goes, and would make them.)"""
    from django.contrib.contenttypes.models import ContentType
    from wagtail.models import Site

    from portal.members.roles import forget_definitions

    ContentType.objects.clear_cache()
    Site.clear_site_root_paths_cache()
    forget_definitions()


def _content_types_first(alias: str) -> None:
    """The snapshot's content types, under their own ids, into an emptied database. A
    restore builds some objects (Wagtail's tasks) that look their content type up as they
    are built and make it when it is missing, which the snapshot's own row then clashes with;
    a restore onto a full database only updates rows, so this is what it meets there too."""
    import json

    from django.contrib.contenttypes.models import ContentType

    contents = json.loads(_snapshot[alias])
    rows = [row for row in contents if row["model"] == "contenttypes.contenttype"]
    ContentType.objects.using(alias).bulk_create(
        [ContentType(pk=row["pk"], **row["fields"]) for row in rows], ignore_conflicts=True
    )
    ContentType.objects.clear_cache()


def _empty_database() -> None:
    from django.core.management import call_command

    for alias in _snapshot:
        call_command(
            "flush",
            database=alias,
            interactive=False,
            inhibit_post_migrate=True,
            reset_sequences=False,  # the restore writes rows with their ids, not the next
        )


def _restore_database() -> None:
    """What a migrated test database holds, back from the snapshot Django took of it."""
    from django.db import connections

    from portal.members.grants import ensure_builtin_roles

    for alias, contents in _snapshot.items():
        _content_types_first(alias)
        connections[alias].creation.deserialize_db_from_string(contents)
    _forget_rows_by_id()
    ensure_builtin_roles()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    if _restores(item):
        previous = _last_test_here[0]
        if previous is not None and not _restores(previous):
            _with_database(item.config, _empty_database)
        # Django's restore (in the test's set-up) meets the database either as migrated or
        # as emptied: the content types go in first either way.
        _with_database(item.config, lambda: [_content_types_first(a) for a in _snapshot])
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    try:
        return (yield)
    finally:
        _last_test_here[0] = item
        # No next test: the test database is being dropped, nothing to restore it for.
        if _restores(item) and nextitem is not None and not _restores(nextitem):
            _with_database(item.config, _restore_database)


@pytest.fixture(autouse=True)
def built_in_roles_after_a_restore(request):
    """A browser test restores the database from its snapshot, which leaves out the roles
    (``TEST_NON_SERIALIZED_APPS``) and sends no ``post_migrate``: the built-in roles that
    the previous test's flush removed are put back as a migrated site has them."""
    if not _restores(request.node):
        return
    request.getfixturevalue("_django_db_helper")  # the restore first
    from portal.members.grants import ensure_builtin_roles

    _forget_rows_by_id()
    ensure_builtin_roles()


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
