"""The security probe: attempts an attacker would make, over real HTTP against a running
portal, each with the outcome that must hold. ``bin/security-probe`` runs it (with
``check --deploy``); docs/security.md is its record.

One world (two member libraries, their people, notices, imports) and one live server;
each attempt is a row of RESULTS, printed as a table at the end. Every attempt runs even
when an earlier one failed; the test fails if any did.
"""

from __future__ import annotations

import base64
import csv
import io
import re
import secrets
from dataclasses import dataclass

import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client

from portal.members.models import Membership
from portal.members.roles import COMMUNICATIONS, CONSORTIUM_ADMIN, DIRECTOR, STAFF
from tests import factories

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SECRET = "hooks:probe-secret"


@dataclass
class Attempt:
    area: str
    what: str
    holds: bool
    detail: str = ""


class Probe:
    def __init__(self, base: str):
        self.base = base
        self.results: list[Attempt] = []

    def session(self, user=None) -> requests.Session:
        """An HTTP session; signed in as ``user`` through a session cookie when given."""
        http = requests.Session()
        token = secrets.token_hex(16)
        http.cookies.set("csrftoken", token)
        http.headers.update({"X-CSRFToken": token, "Referer": self.base + "/"})
        if user is not None:
            client = Client()
            client.force_login(user)
            http.cookies.set("sessionid", client.cookies["sessionid"].value)
        return http

    def check(self, area: str, what: str, holds: bool, detail: str = "") -> None:
        self.results.append(Attempt(area, what, bool(holds), detail))

    def url(self, path: str) -> str:
        return self.base + path


def verified(user, mfa=False):
    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    if mfa:
        Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    return user


def build():
    from plugins.patron_notices.models import (
        Contact,
        Delivery,
        ImportJob,
        LibraryParticipation,
        Notice,
        Patron,
    )

    factories.ensure_site()
    root = factories.consortium()
    a = factories.library(root, name="Library A")
    b = factories.library(root, name="Library B")
    w = {"root": root, "a": a, "b": b}
    w["office"] = verified(factories.member(root, CONSORTIUM_ADMIN, "office@example.org"), True)
    w["director"] = verified(factories.member(a, DIRECTOR, "director@a.example.org"), True)
    w["comms"] = verified(factories.member(a, COMMUNICATIONS, "comms@a.example.org"))
    w["staff"] = verified(factories.member(a, STAFF, "staff@a.example.org"))
    w["comms_b"] = verified(factories.member(b, COMMUNICATIONS, "comms@b.example.org"))
    w["staff_b"] = verified(factories.member(b, STAFF, "staff@b.example.org"))
    from plugins.patron_notices.notices.services import sync_all_drafters

    sync_all_drafters()  # communications people reach the admin by their role
    versions = [
        ("version", {"language": "en", "subject": "Closed", "body": [("paragraph", "<p>x</p>")]})
    ]
    sent = Notice.objects.create(title="Sent", state=Notice.State.DONE, versions=versions)
    for library, paragraph in ((a, "A-PARAGRAPH"), (b, "B-PARAGRAPH")):
        contact = Contact.objects.create(email=f"reader@{library.code}.example.net")
        patron = Patron.objects.create(
            library=library, card_number="1", email=contact.email, contact=contact
        )
        Delivery.objects.create(
            notice=sent, contact=contact, patron=patron, library=library, language="en",
            state="sent",
        )  # fmt: skip
        LibraryParticipation.objects.create(
            notice=sent, library=library, decision="approved", local_paragraph=paragraph
        )
    w["sent"] = sent
    w["draft_b"] = Notice.objects.create(title="B's draft", versions=versions, author=w["comms_b"])
    w["outside"] = Notice.objects.create(
        title="For B", versions=versions, state=Notice.State.APPROVED
    )
    w["outside"].libraries.set([b])
    w["job_b"] = ImportJob.objects.create(
        library=b, file=ContentFile(b"cardnumber\n1\n", name="b.csv"), status="done"
    )
    return w


def test_probe(live_server, settings, capsys):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
    w = build()
    a, b = w["a"], w["b"]
    p = Probe(live_server.url)
    comms, director, staff = p.session(w["comms"]), p.session(w["director"]), p.session(w["staff"])
    anon = p.session()

    # -- cross-library reads and writes ----------------------------------------------------
    r = comms.get(p.url(f"/patron-notices/libraries/{b.code}/patrons/"))
    p.check("cross-library", "A's communications lists B's patrons", r.status_code == 403)
    r = comms.get(p.url(f"/patron-notices/imports/{w['job_b'].pk}/problems.csv"))
    p.check(
        "cross-library", "A's communications downloads B's import problems", r.status_code == 403
    )
    r = director.get(p.url(f"/libraries/{b.code}/people/"))
    p.check("cross-library", "A's director opens B's people page", r.status_code == 403)
    member_b = Membership.objects.get(user=w["staff_b"])
    r = director.post(p.url(f"/libraries/{b.code}/people/{member_b.pk}/remove/"))
    p.check(
        "cross-library", "A's director removes B's staff member",
        r.status_code == 403 and Membership.objects.filter(pk=member_b.pk).exists(),
    )  # fmt: skip
    r = comms.post(
        p.url(f"/patron-notices/notices/{w['outside'].pk}/libraries/{b.code}/"),
        {"decision": "opted_out"},
    )
    p.check("cross-library", "A's communications decides for B", r.status_code == 403)

    # -- notice decisions (issue 15, defects 1-3) ----------------------------------------------
    r = comms.get(p.url(f"/admin/notices/{w['sent'].pk}/manage/"), allow_redirects=False)
    p.check(
        "notices", "A's communications reads B's decision on the manage page",
        r.status_code == 200 and "B-PARAGRAPH" not in r.text and "A-PARAGRAPH" in r.text,
        f"{r.status_code} {r.headers.get('Location', '')} A={'A-PARAGRAPH' in r.text}",
    )  # fmt: skip
    r = comms.get(p.url(f"/admin/notices/{w['sent'].pk}/progress.json"))
    names = [row["name"] for row in r.json()["libraries"]] if r.ok else None
    p.check("notices", "A's communications reads B's counts in progress.json", names == [a.name])
    r = comms.get(p.url(f"/admin/notices/edit/{w['draft_b'].pk}/"), allow_redirects=False)
    p.check("notices", "A's communications opens B's draft to edit", r.status_code in (302, 403))
    comms.post(p.url(f"/admin/notices/delete/{w['draft_b'].pk}/"), allow_redirects=False)
    p.check(
        "notices", "A's communications deletes B's draft",
        type(w["draft_b"]).objects.filter(pk=w["draft_b"].pk).exists(),
    )  # fmt: skip
    outside = p.url(f"/patron-notices/notices/{w['outside'].pk}/libraries/{a.code}/")
    r = comms.get(outside)
    p.check("notices", "A previews a notice not addressed to it", r.status_code == 404)
    r = comms.post(outside, {"decision": "approved", "local_paragraph": "Hi"})
    p.check(
        "notices", "A takes part in a notice not addressed to it",
        r.status_code == 404 and not w["outside"].participations.filter(library=a).exists(),
    )  # fmt: skip

    # -- escalation -------------------------------------------------------------------------------
    r = director.post(
        p.url(f"/libraries/{a.code}/people/"),
        {"email": w["office"].email, "full_name": "", "role": STAFF},
    )
    p.check(
        "escalation", "A's director makes the office staff of A without consent",
        not Membership.objects.filter(user=w["office"], library=a).exists(),
    )  # fmt: skip
    r = director.post(
        p.url(f"/libraries/{a.code}/people/"),
        {"email": "new@example.org", "full_name": "", "role": CONSORTIUM_ADMIN},
    )
    p.check(
        "escalation", "A's director appoints a consortium administrator",
        not Membership.objects.filter(role=CONSORTIUM_ADMIN).exclude(user=w["office"]).exists(),
    )  # fmt: skip
    r = staff.get(p.url("/admin/"), allow_redirects=False)
    p.check("escalation", "staff open the Wagtail admin", r.status_code == 302)
    r = comms.post(p.url(f"/admin/notices/{w['sent'].pk}/act/cancel/"), allow_redirects=False)
    p.check(
        "escalation", "communications control a send",
        r.status_code in (302, 403) and r.headers.get("Location", "") == "/admin/",
    )  # fmt: skip

    # -- stored XSS --------------------------------------------------------------------------------
    type(w["staff"]).objects.filter(pk=w["staff"].pk).update(full_name="<script>alert(1)</script>")
    r = director.get(p.url(f"/libraries/{a.code}/people/"))
    p.check(
        "xss", "a person's name carries a script into the director's page",
        "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text,
    )  # fmt: skip

    # -- CSV injection -----------------------------------------------------------------------------
    job = _upload(p, comms, a, _formula_file())
    r = comms.get(p.url(f"/patron-notices/imports/{job}/problems.csv")) if job else None
    cells = [c for row in csv.reader(io.StringIO(r.text)) for c in row] if r is not None else []
    p.check(
        "csv", "a formula in an imported row runs in the problems download",
        len(cells) > 4 and not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells),
        f"job {job}: {cells[:8]}",
    )  # fmt: skip

    # -- uploads -----------------------------------------------------------------------------------
    for what, content in (
        ("200 KB of binary junk", secrets.token_bytes(200_000)),
        ("10,000 columns", (",".join(f"c{i}" for i in range(10_000)) + "\n").encode()),
        ("a 5 MB header line", b"cardnumber" + b"x" * 5_000_000 + b"\n"),
        ("a spreadsheet saved as .xlsx", b"PK\x03\x04" + secrets.token_bytes(1000)),
    ):
        r = comms.post(
            p.url(f"/patron-notices/libraries/{a.code}/import/"),
            data={"preset": "generic"},
            files={"file": ("patrons.csv", content, "text/csv")},
            allow_redirects=False,
        )
        p.check(
            "uploads", f"{what} is taken",
            r.status_code == 200 and 'class="errorlist' in r.text,
            r.status_code,
        )  # fmt: skip

    # -- links and webhooks ------------------------------------------------------------------------
    r = anon.get(p.url("/patron-notices/u/forged-token/"))
    p.check("links", "a forged unsubscribe link unsubscribes", r.status_code == 403)
    r = anon.get(p.url("/patron-notices/preferences/forged-token/"))
    p.check("links", "a forged preferences link opens preferences", r.status_code == 403)
    hook = p.url("/patron-notices/anymail/postmark/tracking/")
    r = anon.post(hook, json={"RecordType": "Bounce", "Email": "reader@a.example.net"})
    p.check("webhooks", "a bounce posted without the secret is taken", 400 <= r.status_code < 500)
    wrong = "Basic " + base64.b64encode(b"hooks:wrong").decode()
    r = anon.post(hook, json={}, headers={"Authorization": wrong})
    p.check("webhooks", "a bounce posted with a wrong secret is taken", 400 <= r.status_code < 500)
    right = "Basic " + base64.b64encode(SECRET.encode()).decode()
    r = anon.post(
        p.url("/patron-notices/anymail/mailgun/tracking/"),
        json={},
        headers={"Authorization": right},
    )
    p.check("webhooks", "a provider without its key answers 500", r.status_code == 404)

    # -- API scopes --------------------------------------------------------------------------------
    from tests.api_support import api_token

    r = anon.get(p.url("/api/v1/library"))
    p.check("api", "the API answers without a token", r.status_code == 401)
    token = api_token(w["office"], a, ["policies:read"])
    r = anon.get(p.url("/api/v1/library"), headers={"Authorization": f"Bearer {token}"})
    p.check("api", "a token without the scope reads the library", r.status_code == 403)

    # -- sign-in: brute force, open redirects, MFA -------------------------------------------------
    factories.person("victim@example.org", password="right horse battery", verified=True)
    for _ in range(6):
        r = anon.post(
            p.url("/accounts/login/"), {"login": "victim@example.org", "password": "wrong"}
        )
    p.check("login", "six wrong passwords in a row are all tried", "Too many" in r.text)
    person = factories.person("walker@example.org", password="right horse battery", verified=True)
    walker = p.session()
    r = walker.post(
        p.url("/accounts/login/?next=https://evil.example/"),
        {"login": person.email, "password": "right horse battery"},
        allow_redirects=False,
    )
    p.check(
        "redirects", "sign-in sends to another site",
        r.status_code == 302 and not r.headers["Location"].startswith("https://evil"),
        r.headers.get("Location", ""),
    )  # fmt: skip
    r = anon.get(p.url("/admin/login/?next=https://evil.example/"), allow_redirects=False)
    p.check(
        "redirects",
        "the admin's sign-in sends to another site",
        "evil" not in r.headers.get("Location", ""),
    )
    director_login = p.session()
    _set_password(w["director"], "director horse battery")
    r = director_login.post(
        p.url("/accounts/login/"),
        {"login": w["director"].email, "password": "director horse battery"},
        allow_redirects=False,
    )
    after = director_login.get(p.url(f"/libraries/{a.code}/people/"), allow_redirects=False)
    p.check(
        "mfa", "a director with a second factor gets in with the password alone",
        "/2fa/" in r.headers.get("Location", "") and after.status_code == 302,
        f"{r.headers.get('Location', '')} then {after.status_code}",
    )  # fmt: skip

    # -- the audit chain, after all of the above ---------------------------------------------------
    call_command("verify_audit")
    p.check("audit", "the probe's own actions break the audit chain", True)

    _report(p, capsys)
    failed = [r for r in p.results if not r.holds]
    assert not failed, "\n".join(f"{r.area}: {r.what} ({r.detail})" for r in failed)


def _set_password(user, password):
    user.set_password(password)
    user.save(update_fields=["password"])


def _formula_file() -> bytes:
    return b"cardnumber,email,=cmd|' /C calc'!A0\n=1+2,not-an-email,@SUM(1)\n"


def _upload(p: Probe, http, library, content: bytes) -> int | None:
    r = http.post(
        p.url(f"/patron-notices/libraries/{library.code}/import/"),
        data={"preset": "generic"},
        files={"file": ("patrons.csv", content, "text/csv")},
        allow_redirects=False,
    )
    if r.status_code != 302:
        return None
    job = int(re.search(r"/imports/(\d+)/", r.headers["Location"]).group(1))
    r = http.post(
        p.url(f"/patron-notices/imports/{job}/mapping/"),
        {"mode": "valid_rows", "map_card_number": "cardnumber", "map_email": "email"},
        allow_redirects=False,
    )
    return job if r.status_code == 302 else None


def _report(p: Probe, capsys) -> None:
    lines = ["", "| area | attempt | holds |", "|---|---|---|"]
    lines += [
        f"| {r.area} | {r.what} | {'yes' if r.holds else 'NO ' + str(r.detail)} |"
        for r in p.results
    ]
    held = sum(r.holds for r in p.results)
    lines.append(f"\n{held} of {len(p.results)} attempts held.")
    with capsys.disabled():
        print("\n".join(lines))
