"""Every page the journeys' people load, checked as they go: axe-core in the open tab, and
the HTML the server sent kept for the W3C Nu checker, which reads them all in one run at
the end (one Java start instead of one per page).

The journeys already sign in as the office, directors and staff and click through the
portal and the admin; checking what they load costs a fraction of a second per page,
where visiting the pages again in a sweep cost minutes. A page is checked once per role
and per view (the dashboard after a vote and after a policy is the same template).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

BLOCKING = {"serious", "critical"}


def role_of(who: str) -> str:
    """The role a demo person holds, by their address (staff1.<code>@..., office@...)."""
    from portal.members.roles import COMMUNICATIONS, CONSORTIUM_ADMIN, DIRECTOR, STAFF

    return {
        "office": CONSORTIUM_ADMIN,
        "deputy": CONSORTIUM_ADMIN,
        "director": DIRECTOR,
        "staff": STAFF,
        "comms": COMMUNICATIONS,
    }.get(who.rstrip("0123456789"), who)


def blocking(results) -> list[str]:
    """axe-core's serious and critical findings, a line each."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:5])
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


@dataclass
class Visit:
    who: str  # the role, from the demo address: office, director, staff1, ...
    url: str
    view: str  # the URL's name, or its path for a page of the page tree
    html: Path | None = None
    axe: list[str] | None = None  # blocking violations; None: the page moved on first
    in_tab: bool = False  # axe-core ran in the journey's own tab


@dataclass
class PageRecord:
    folder: Path
    visits: dict[tuple[str, str], Visit] = field(default_factory=dict)
    checked: set[tuple[str, str]] = field(default_factory=set)

    def attach(self, context, email: str) -> None:
        """Record every page ``context`` loads, as the person with ``email``."""
        who = re.split(r"[.@]", email, maxsplit=1)[0]
        context.on("response", lambda response: self._response(who, response))
        context.on("page", lambda tab: tab.on("load", lambda _: self._loaded(who, tab)))

    def _key(self, who: str, url: str) -> tuple[str, str]:
        from django.urls import Resolver404, resolve

        path = urlsplit(url).path
        try:
            match = resolve(path)
        except Resolver404:
            return who, path
        name = match.view_name
        # Wagtail serves the page tree through one view: each page is its own.
        return who, path if name in ("wagtail_serve", "") else name

    def _response(self, who: str, response) -> None:
        request = response.request
        if request.resource_type != "document" or request.frame.parent_frame is not None:
            return
        if response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
            return
        key = self._key(who, response.url)
        visit = self.visits.setdefault(key, Visit(who, response.url, key[1]))
        if visit.html is not None:
            return
        try:
            body = response.text()
        except Exception:  # noqa: BLE001 - the tab moved on before the body was read
            return
        name = hashlib.sha1(f"{who} {key[1]}".encode()).hexdigest()[:16]  # noqa: S324
        visit.html = self.folder / f"{name}.html"
        visit.html.write_text(body)

    def _loaded(self, who: str, tab) -> None:
        from axe_playwright_python.sync_playwright import Axe

        key = self._key(who, tab.url)
        visit = self.visits.setdefault(key, Visit(who, tab.url, key[1]))
        if visit.axe is not None or urlsplit(tab.url).scheme not in ("http", "https"):
            return
        try:
            results = Axe().run(tab)
        except Exception:  # noqa: BLE001 - the journey navigated on while axe ran
            return
        visit.url, visit.axe, visit.in_tab = tab.url, blocking(results), True

    def seen(self) -> set[tuple[str, str]]:
        """(role, view) of every page loaded so far."""
        return {(role_of(who), view) for who, view in self.visits}

    def unchecked(self) -> list[Visit]:
        """The visits not yet reported on, which are now reported on."""
        fresh = [v for k, v in self.visits.items() if k not in self.checked]
        self.checked.update(self.visits)
        return fresh


def is_portal_page(visit: Visit) -> bool:
    """The portal's own pages, which the Nu checker reads: not the Wagtail admin, whose
    markup is Wagtail's (axe-core checks the admin)."""
    return not urlsplit(visit.url).path.startswith("/admin/")
