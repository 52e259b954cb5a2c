"""The send path's shortcut: a message serialised once per (library, language) and filled in
per recipient is byte for byte what the ordinary path builds."""

import email
import email.policy
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugins.patron_notices.notices import emails, leases, links, rendering, smtp

from .engine_support import notice

pytestmark = pytest.mark.django_db


def normalised(data: bytes) -> bytes:
    # The Date header and the MIME boundary differ between any two builds.
    data = re.sub(rb"Date: [^\r\n]+", b"Date: -", data)
    boundaries = set(re.findall(rb'boundary="([^"]+)"', data))
    for n, boundary in enumerate(sorted(boundaries)):
        data = data.replace(boundary, b"B%d" % n)
    return data


def build(n, library, language, first_name, delivery_id=7):
    branding = rendering.branding_for({library.pk})[library.pk]
    prepared = rendering.prepare(n, branding, language)
    row = leases.Row(delivery_id, library.pk, language, 1, "ada@example.net", first_name)
    shortcut = emails.Serialised(n, prepared, branding, links.unsubscribe_prefix())
    ordinary = emails.build_message(n, row, prepared, branding, None).message()
    return shortcut.render(n.pk, row), ordinary.as_bytes(linesep="\r\n")


def test_the_shortcut_matches_the_ordinary_message(libs):
    n = notice()
    for language in ("en", "fr"):
        fast, slow = build(n, libs["main"], language, "Ada <&>")
        assert fast is not None
        assert normalised(fast) == normalised(slow)
        parsed = email.message_from_bytes(fast, policy=email.policy.default)
        assert parsed["Message-ID"] == f"<notice-{n.pk}.delivery-7@concord.invalid>"
        assert "Ada &lt;&amp;&gt;" in parsed.get_body(("html",)).get_content()


def test_values_it_cannot_splice_safely_take_the_ordinary_path(libs):
    n = notice()
    fast, _slow = build(n, libs["main"], "en", "Zoé")  # a non-ASCII name
    assert fast is None
    personal = notice(
        versions=[
            (
                "version",
                {
                    "language": "en",
                    "subject": "{first_name}, fines waived",
                    "body": [("paragraph", "<p>Hello</p>")],
                },
            )
        ]
    )
    fast, _slow = build(personal, libs["main"], "en", "Ada")  # the name in the subject
    assert fast is None


@given(
    st.one_of(
        st.emails(),
        st.builds(lambda name, addr: f"{name} <{addr}>", st.text(max_size=20), st.emails()),
        st.text(max_size=40),
    )
)
def test_envelope_addresses_are_quoted_as_smtplib_quotes_them(address):
    import smtplib

    assert smtp.envelope_address(address) == smtplib.quoteaddr(address)
