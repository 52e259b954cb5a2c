"""A rendered notice as an email: built by Django, or serialised once per group and spliced
per recipient."""

from __future__ import annotations

import html
import logging
import re

from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import sanitize_address

from .leases import Row
from .links import message_id_domain, unsubscribe_prefix, unsubscribe_token
from .models import Notice, message_id_for
from .rendering import FIRST_NAME, UNSUBSCRIBE, Branding, Prepared, first_name_of

logger = logging.getLogger(__name__)


def build_message(notice, row: Row, prepared: Prepared, branding: Branding, connection_):
    first = first_name_of(row)
    before, after = unsubscribe_prefix()
    unsubscribe = before + unsubscribe_token(row.id) + after
    text = prepared.text.replace(FIRST_NAME, first).replace(UNSUBSCRIBE, unsubscribe)
    markup = prepared.html.replace(FIRST_NAME, html.escape(first)).replace(
        UNSUBSCRIBE, html.escape(unsubscribe)
    )
    subject = prepared.subject.replace(FIRST_NAME, first)
    message_id = message_id_for(notice.pk, row.id)
    message = _email(
        notice, subject, text, markup, branding, row.email, message_id, unsubscribe, connection_
    )
    if row.id:
        # Read by django-anymail backends only: the provider echoes it in its bounce and
        # complaint webhooks, which name the row to mark (see bounces.py).
        message.metadata = {"concord_notice": str(notice.pk), "concord_delivery": str(row.id)}
    return message


def _email(notice, subject, text, markup, branding, to, message_id, unsubscribe, connection_=None):
    headers = {
        "Message-ID": message_id,
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": f"<notices.{branding.library.code}.{message_id_domain()}>",
        "X-Concord-Notice": str(notice.pk),
    }
    if notice.category != Notice.Category.EMERGENCY:
        headers["Precedence"] = "bulk"
    reply_to = [branding.reply_to] if branding.reply_to else None
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=branding.from_email,
        to=[to],
        reply_to=reply_to,
        headers=headers,
        connection=connection_,
    )
    message.attach_alternative(markup, "text/html")
    return message


# Tokens spliced per recipient into a message serialised once per (library, language).
# Plain ASCII, so the MIME serialiser copies them through unchanged.
_TO = "recipient.zq7x@to.concord.invalid"
_MID = "<message-id.zq7x@concord.invalid>"
_NAME_HTML, _NAME_TEXT = "zq7xNAMEHzq7x", "zq7xNAMETzq7x"
_UNSUB_HTML, _UNSUB_TEXT = "zq7xUNSUBHzq7x", "zq7xUNSUBTzq7x"
# As long as a real unsubscribe URL, so the header is folded the same way as theirs.
_UNSUB_HEAD = "zq7xUNSUBL" + "x" * 60 + "zq7x"


class Serialised:
    """One (library, language) message serialised by Django once; each recipient's copy is
    the same bytes with their address, first name, unsubscribe link and Message-ID put in.

    Building and flattening the MIME tree is most of the cost of a message; doing it once
    per batch and group keeps the output byte-for-byte what ``build_message`` makes. Where
    the shortcut cannot be proven safe (a placeholder in the subject, a part encoded as
    quoted-printable or base64, a non-ASCII value to put in) :meth:`render` returns None
    and the message is built the ordinary way.
    """

    def __init__(self, notice, prepared: Prepared, branding: Branding, unsubscribe_prefix):
        self.unsubscribe_prefix = unsubscribe_prefix
        self.parts: list[bytes | str] | None = None
        if FIRST_NAME in prepared.subject:
            return
        text = prepared.text.replace(FIRST_NAME, _NAME_TEXT).replace(UNSUBSCRIBE, _UNSUB_TEXT)
        markup = prepared.html.replace(FIRST_NAME, _NAME_HTML).replace(UNSUBSCRIBE, _UNSUB_HTML)
        message = _email(notice, prepared.subject, text, markup, branding, _TO, _MID, _UNSUB_HEAD)
        self.envelope_from = sanitize_address(message.from_email, message.encoding or "utf-8")
        data = message.message().as_bytes(linesep="\r\n")
        if re.search(rb"Content-Transfer-Encoding: (base64|quoted-printable)", data, re.I):
            return
        expected = {
            _TO: 1,
            _MID: 1,
            _UNSUB_HEAD: 1,
            _NAME_TEXT: text.count(_NAME_TEXT),
            _NAME_HTML: markup.count(_NAME_HTML),
            _UNSUB_TEXT: text.count(_UNSUB_TEXT),
            _UNSUB_HTML: markup.count(_UNSUB_HTML),
        }
        if any(data.count(token.encode()) != n for token, n in expected.items()):
            return  # a header fold or an encoding split a token: no shortcut
        pattern = "|".join(re.escape(token) for token in expected)
        self.parts = [
            piece if i % 2 else piece.encode("ascii", "surrogateescape")
            for i, piece in enumerate(
                re.split(f"({pattern})", data.decode("ascii", "surrogateescape"))
            )
        ]

    def render(self, notice_id: int, row: Row) -> bytes | None:
        first = first_name_of(row)
        if self.parts is None or not first.isascii() or not row.email.isascii():
            return None
        before, after = self.unsubscribe_prefix
        unsubscribe = before + unsubscribe_token(row.id) + after
        values = {
            _TO: row.email,
            _MID: message_id_for(notice_id, row.id),
            _UNSUB_HEAD: unsubscribe,
            _NAME_TEXT: first,
            _NAME_HTML: html.escape(first),
            _UNSUB_TEXT: unsubscribe,
            _UNSUB_HTML: html.escape(unsubscribe),
        }
        return b"".join(
            piece if isinstance(piece, bytes) else values[piece].encode() for piece in self.parts
        )
