"""The notices' HTML parts, as patrons' mail programs and the public archive page get them,
pass the W3C Nu HTML checker (vnu.jar, tests/node_tools.py) with no error."""

import email
import email.policy

import pytest

from plugins.patron_notices.models import LibraryParticipation
from plugins.patron_notices.notices import emails, leases, rendering
from tests.node_tools import vnu

from .engine_support import notice

pytestmark = pytest.mark.django_db

BODY = [
    ("heading", "What changes"),
    (
        "paragraph",
        "<p>Dear {first_name}, fines are <b>waived</b> at {library_name}:</p>"
        "<ul><li>overdue books</li><li>overdue <i>films</i></li></ul>"
        '<p>See <a href="https://example.org/fines">the details</a>.</p>',
    ),
    ("button", {"label": "Renew online", "url": "https://example.org/renew"}),
]


@pytest.mark.slow  # the checker's JVM starts in seconds
def test_notice_html_parts_pass_the_w3c_checker(libs, tmp_path):
    versions = [
        ("version", {"language": language, "subject": f"Fines waived ({language})", "body": BODY})
        for language in ("en", "fr")
    ]
    n = notice(versions=versions)
    LibraryParticipation.objects.create(
        notice=n,
        library=libs["north"],
        decision="approved",
        local_paragraph="Open Sundays.\nAll day.",
    )
    files = []
    for library in (libs["main"], libs["east"]):
        branding = rendering.branding_for({library.pk})[library.pk]
        for language in ("en", "fr"):
            # The message a patron gets, name and unsubscribe link filled in...
            prepared = rendering.prepare(n, branding, language)
            row = leases.Row(7, library.pk, language, 1, "ada@example.net", "Ada <&>")
            message = emails.build_message(n, row, prepared, branding, None).message()
            parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
            mail = tmp_path / f"{library.code}-{language}-mail.html"
            mail.write_text(parsed.get_body(("html",)).get_content())
            # ...and the public page each message links to.
            web = tmp_path / f"{library.code}-{language}-web.html"
            web.write_text(rendering.archive_page(n, library, language).html)
            files += [mail, web]
    # A page with known faults, checked in the same run: the checker is really checking.
    broken = tmp_path / "broken.html"
    broken.write_text('<!DOCTYPE html><html lang="en"><title>x</title><p id="a"><p id="a">')
    messages = vnu([*files, broken])
    errors = [m for m in messages if m["type"] == "error" or m.get("subType") == "fatal"]
    assert {m["url"].rsplit("/", 1)[-1] for m in errors} == {"broken.html"}, "\n".join(
        f"{m['url'].rsplit('/', 1)[-1]}:{m.get('lastLine')}: {m['message']}" for m in errors
    )
