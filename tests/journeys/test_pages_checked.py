"""What the journeys' people saw passes the checkers: axe-core finds no serious or critical
problem on any page (portal and admin), the W3C Nu HTML checker no error on the portal's.

It runs after the journeys (each job on both demos) and reports on the pages loaded since
the last report: the first run on every page the journeys loaded, on either demo (the same
page by the same person is checked once); the Nu checker starts once for all of them.
The pages the journeys do not reach are swept in tests/e2e/test_accessibility.py.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from tests.node_tools import vnu

from .pages import blocking, is_portal_page

pytestmark = [pytest.mark.e2e]


# Errors known on a page, with the page: the notice decision page nests blocks in a
# paragraph (plugins/patron_notices). The check fails once the page is valid, so the entry
# goes with the fix.
KNOWN_HTML_ERRORS: dict[str, str] = {}


def _serve(html: str):
    def fulfil(route):
        route.fulfill(body=html, content_type="text/html; charset=utf-8")

    return fulfil


def _axe_the_rest(browser, demo, visits) -> None:
    """Pages the journey left before axe-core had run there: their HTML as sent, in a
    fresh tab, with the demo's styles and scripts."""
    missed = [v for v in visits if v.axe is None and v.html is not None]
    if not missed:
        return
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    context = browser.new_context(base_url=demo.url, locale="en-US")
    try:
        tab = context.new_page()
        for visit in missed:
            tab.route(visit.url, _serve(visit.html.read_text()))
            tab.goto(visit.url)
            tab.unroute(visit.url)
            visit.axe = blocking(axe.run(tab))
    finally:
        context.close()


def test_every_page_the_journeys_loaded_passes_the_checkers(demo, page_record, browser):
    if not page_record.visits:
        pytest.fail("the journeys loaded no page: was the record attached?")
    # On the second demo, only the pages the first did not load (the same page by the same
    # person is checked once).
    visits = page_record.unchecked()
    if not visits:
        return
    _axe_the_rest(browser, demo, visits)
    # What was checked, by whom, for reading after a failure.
    (page_record.folder / "checked.json").write_text(
        json.dumps([[v.who, v.view, v.url, v.axe] for v in visits], indent=1)
    )
    problems = [f"[{v.who}] {v.url}\n    " + "\n    ".join(v.axe) for v in visits if v.axe]
    portal = {v.html.name: v for v in visits if v.html is not None and is_portal_page(v)}
    errors = defaultdict(list)
    known_seen = set()
    for message in vnu([v.html for v in portal.values()]):
        if message.get("type") == "error":
            visit = portal[message["url"].rsplit("/", 1)[-1]]
            if KNOWN_HTML_ERRORS.get(visit.view) == message["message"]:
                known_seen.add(visit.view)
                continue
            errors[f"[{visit.who}] {visit.url}"].append(
                f"line {message.get('lastLine')}: {message['message']}"
            )
    fixed = {v.view for v in portal.values() if v.view in KNOWN_HTML_ERRORS} - known_seen
    problems += [f"{view} is valid now: take it out of KNOWN_HTML_ERRORS" for view in fixed]
    problems += [f"{where} (HTML)\n    " + "\n    ".join(lines) for where, lines in errors.items()]
    assert not problems, f"{len(visits)} pages checked:\n" + "\n".join(problems)


def test_the_sweep_leaves_out_only_pages_the_journeys_load(demo, page_record, request):
    """tests/e2e/test_accessibility.py skips the pages listed in JOURNEY_PAGES because they
    are checked here: if a journey stops loading one, it must go back to the sweep."""
    from tests.e2e.test_accessibility import JOURNEY_PAGES

    from . import test_five_jobs as jobs

    wanted = {name for name in dir(jobs) if name.startswith("test_")}
    ran = {
        item.originalname
        for item in request.session.items
        if item.module is jobs and item.callspec.params.get("demo") == demo.backend
    }
    if ran != wanted:
        pytest.skip("only some of the journeys ran: the pages they load are not all known")
    missing = {
        (role, view) for role, views in JOURNEY_PAGES.items() for view in views
    } - page_record.seen()
    assert not missing, f"the journeys no longer load these; sweep them again: {sorted(missing)}"
