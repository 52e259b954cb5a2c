"""The sending engine: claim a batch of delivery rows, render, send, record.

PostgreSQL is the source of truth. A batch claims its rows with ``FOR UPDATE SKIP LOCKED``
and a lease, so two workers never hold the same row; a worker that dies leaves its rows
to be re-queued when the lease runs out (see :func:`reap`). Rows are recorded in small
flushes, so a killed worker can resend at most the messages of its last unflushed flush,
each with the same Message-ID.

A batch rides out a database restart: every statement it runs is repeated with backoff
while the database does not answer (:func:`patiently`), for as long as its lease holds, so
the outcomes it has are recorded once the database is back rather than sent again.
"""

from __future__ import annotations

import contextlib
import functools
import html
import logging
import os
import re
import smtplib
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser

import redis
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import make_msgid, sanitize_address
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from portal.members.models import MemberLibrary

from .models import Delivery, LibraryParticipation, LibrarySender, Notice, message_id_for

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "patron_notices.unsubscribe"


def setting(name: str, default):
    return getattr(settings, f"PATRON_NOTICES_{name}", default)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# -- riding out a restart ------------------------------------------------------------------------

# What a database restart or failover raises: the connection was closed under a statement
# ("terminating connection due to administrator command"), or none can be opened yet.
TRANSIENT = (OperationalError, InterfaceError)
# The rate limits' counters are in Redis, which may be restarting too.
REDIS_TRANSIENT = (redis.ConnectionError, redis.TimeoutError)


def patiently(deadline: float, fn, *args, errors: tuple = TRANSIENT, **kwargs):
    """``fn(*args, **kwargs)``, run again with backoff (up to 1 s apart) while it fails with
    one of ``errors``, until ``deadline`` (a ``time.monotonic()``); then its error.

    Only for work that may be repeated: a statement whose connection broke may or may not
    have committed. The broken connection is closed; the next statement opens another.
    Inside an outer transaction nothing can be repeated, so the error is raised at once."""
    pause = 0.05
    while True:
        try:
            return fn(*args, **kwargs)
        except errors as exc:
            if connection.in_atomic_block or time.monotonic() + pause > deadline:
                raise
            name = getattr(fn, "__name__", "a database call")
            logger.warning("%s: %s; again in %.2f s", name, type(exc).__name__, pause)
            with contextlib.suppress(Exception):  # closing a broken connection
                connection.close()
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


def lease_margin(lease: float) -> float:
    """How long before a lease runs out a batch stops waiting for the database: its rows
    must still be its own when it records them."""
    return min(lease * 0.1, 10.0)


# -- tokens ------------------------------------------------------------------------------------


def unsubscribe_token(delivery_id: int) -> str:
    # Names the delivery: the contact, the library and the category follow from it.
    return signing.dumps(delivery_id, salt=UNSUBSCRIBE_SALT)


def delivery_from_token(token: str) -> Delivery | None:
    try:
        delivery_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return (
        Delivery.objects.select_related("notice", "library", "contact")
        .filter(pk=delivery_id)
        .first()
    )


def base_url() -> str:
    return setting("BASE_URL", settings.WAGTAILADMIN_BASE_URL).rstrip("/")


# -- claiming ------------------------------------------------------------------------------------


@dataclass
class Row:
    id: int
    library_id: int
    language: str
    attempts: int
    email: str
    first_name: str


_CLAIM_PG = """
WITH live AS (
    SELECT id FROM {notice} WHERE id = %(notice)s AND state = 'sending' FOR SHARE
), claimed AS (
    UPDATE {delivery} d
       SET state = 'sending', worker = %(worker)s, attempts = d.attempts + 1,
           lease_until = clock_timestamp() + make_interval(secs => %(lease)s)
     WHERE d.id = ANY(ARRAY(
        SELECT id FROM {delivery}
         WHERE notice_id = (SELECT id FROM live) AND state = 'queued'
           AND (due_at IS NULL OR due_at <= clock_timestamp())
         ORDER BY id
         LIMIT %(limit)s
         FOR UPDATE SKIP LOCKED))
    RETURNING d.id, d.contact_id, d.patron_id, d.library_id, d.language, d.attempts
)
SELECT c.id, c.library_id, c.language, c.attempts, ct.email, coalesce(p.first_name, '')
  FROM claimed c
  JOIN {contact} ct ON ct.id = c.contact_id
  LEFT JOIN {patron} p ON p.id = c.patron_id
 ORDER BY c.id
"""


def claim(notice_id: int, worker: str, limit: int, lease: float) -> list[Row]:
    """Take up to ``limit`` due rows of the notice for this worker, atomically.

    ``= ANY(ARRAY(subquery))`` makes the row choice run once, before the update, whatever
    the planner believes: with ``IN (subquery)`` and statistics taken before a million rows
    were planned, it chose a semi-join that ran the subquery per row, for minutes.

    Nothing is claimed unless the notice is sending, read under a share lock: a pause or
    cancel (which locks the notice to change it) either waits for this claim to commit or
    has committed before it, so no batch starts sending after a pause took effect."""
    if connection.vendor == "postgresql":
        from .models import Contact, Patron

        sql = _CLAIM_PG.format(
            notice=Notice._meta.db_table,
            delivery=Delivery._meta.db_table,
            contact=Contact._meta.db_table,
            patron=Patron._meta.db_table,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                sql, {"worker": worker, "lease": lease, "notice": notice_id, "limit": limit}
            )
            return [Row(*r) for r in cursor.fetchall()]
    # Elsewhere (SQLite in development) there is one writer at a time: lock by transaction.
    now = timezone.now()
    with transaction.atomic():
        if not Notice.objects.filter(pk=notice_id, state=Notice.State.SENDING).exists():
            return []
        ids = list(
            Delivery.objects.filter(notice_id=notice_id, state=Delivery.State.QUEUED)
            .exclude(due_at__gt=now)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        Delivery.objects.filter(id__in=ids, state=Delivery.State.QUEUED).update(
            state=Delivery.State.SENDING,
            worker=worker,
            lease_until=now + timedelta(seconds=lease),
            attempts=F("attempts") + 1,
        )
        rows = Delivery.objects.filter(id__in=ids, worker=worker).select_related(
            "contact", "patron"
        )
        return [
            Row(
                d.id,
                d.library_id,
                d.language,
                d.attempts,
                d.contact.email,
                d.patron.first_name if d.patron else "",
            )
            for d in rows.order_by("id")
        ]


def claim_patiently(notice_id: int, worker: str, limit: int, lease: float) -> list[Row]:
    """:func:`claim`, repeated while the database does not answer.

    A claim whose connection broke may have committed without its answer reaching this
    worker: before claiming again, rows this worker holds for the notice are given back,
    or they would wait for their lease to run out. One batch runs at a time per worker
    name (the process id is part of it), so none of them is another batch's."""
    attempts = 0

    def take() -> list[Row]:
        nonlocal attempts
        attempts += 1
        if attempts > 1:
            held = Delivery.objects.filter(
                notice_id=notice_id, worker=worker, state=Delivery.State.SENDING
            )
            release(worker, list(held.values_list("id", flat=True)), cancelled=False)
        return claim(notice_id, worker, limit, lease)

    return patiently(time.monotonic() + lease - lease_margin(lease), take)


# -- rendering -------------------------------------------------------------------------------


class _TextMaker(HTMLParser):
    """The plain-text part, from the HTML: paragraphs kept, links spelled out."""

    BLOCK = {"p", "div", "h1", "h2", "h3", "li", "tr", "br", "table"}

    def __init__(self):
        super().__init__()
        self.out: list[str] = []
        self.href: list[str | None] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "head", "title"):
            self.skip += 1
        if tag in self.BLOCK:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")
        if tag == "a":
            self.href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag):
        if tag in ("style", "head", "title"):
            self.skip -= 1
        if tag == "a" and self.href:
            href = self.href.pop()
            if href and not href.startswith("mailto:"):
                self.out.append(f" ({href})")
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_text(markup: str) -> str:
    maker = _TextMaker()
    maker.feed(markup)
    text = "".join(maker.out)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


@dataclass
class Branding:
    library: MemberLibrary
    sender: LibrarySender | None
    local_paragraph: str
    logo_url: str
    # The nearest sender with its own mail account; names and reply-to come from ``sender``.
    transport: LibrarySender | None = None
    from_address: str = ""

    @property
    def from_email(self) -> str:
        from email.utils import formataddr, parseaddr

        name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
        address = self.from_address or address
        shown = (self.sender.from_name if self.sender else "") or self.library.name
        return formataddr((shown, address))

    @property
    def reply_to(self) -> str:
        return (self.sender.reply_to if self.sender else "") or self.library.reply_to

    def placeholders(self) -> dict[str, str]:
        return {
            "library_name": self.library.name,
            "library_address": self.library.address,
            "library_website": self.library.website,
            "library_reply_to": self.reply_to,
        }


FIRST_NAME = "\x00first_name\x00"
UNSUBSCRIBE = "\x00unsubscribe\x00"
_PLACEHOLDER = re.compile(
    r"\{(first_name|library_name|library_address|library_website|library_reply_to)\}"
)


def _fill(text: str, values: dict[str, str], escape: bool) -> str:
    def sub(match):
        name = match.group(1)
        if name == "first_name":
            return FIRST_NAME
        value = values.get(name, "")
        return html.escape(value) if escape else value

    return _PLACEHOLDER.sub(sub, text)


@dataclass
class Prepared:
    """One (library, language) message with only the patron's parts left to fill in."""

    subject: str
    html: str
    text: str


def archive_path(notice_id: int, library_code: str, language: str) -> str:
    return reverse("patron_notices:archive", args=[notice_id, library_code, language])


def prepare(notice: Notice, branding: Branding, language: str, archive: bool = False) -> Prepared:
    """The message of ``branding``'s library in ``language``; ``archive``: as the public web
    page, without the unsubscribe and view-in-browser links."""
    version = notice.version_for(language)
    values = branding.placeholders()
    archive_url = ""
    if not archive:
        archive_url = base_url() + archive_path(
            notice.pk, branding.library.code, version["language"]
        )
    with translation.override(version["language"]):
        body_html = version["body"].render_as_block(
            context={"primary_colour": branding.library.primary_colour}
        )
        markup = render_to_string(
            "patron_notices/email/notice.html",
            {
                "notice": notice,
                "subject": version["subject"],
                "body": body_html,
                "library": branding.library,
                "logo_url": branding.logo_url,
                "reply_to": branding.reply_to,
                "local_paragraph": branding.local_paragraph,
                "unsubscribe_url": "" if archive else UNSUBSCRIBE,
                "archive_url": archive_url,
                "language": version["language"],
            },
        )
    markup = _fill(markup, values, escape=True)
    subject = _fill(version["subject"], values, escape=False)
    return Prepared(subject=subject, html=markup, text=html_to_text(markup))


def branding_for(library_ids: set[int]) -> dict[int, Branding]:
    """Branding of each library, with the sender and local paragraph of its nearest ancestor."""
    libraries = {lib.pk: lib for lib in MemberLibrary.objects.filter(pk__in=library_ids)}
    paths = {p for lib in libraries.values() for p in lib.ancestor_paths()}
    senders = {
        s.library.path: s
        for s in LibrarySender.objects.filter(library__path__in=paths).select_related("library")
    }
    result = {}
    for lib_id, lib in libraries.items():
        sender = transport = None
        from_address = ""
        for path in lib.ancestor_paths():  # root first: the nearest wins
            sender = senders.get(path, sender)
            if path in senders and senders[path].from_email:
                from_address = senders[path].from_email
            if path in senders and senders[path].connection_key() is not None:
                transport = senders[path]
        logo_url = ""
        if lib.logo_id:
            try:
                logo_url = base_url() + lib.logo.get_rendition("max-240x80").url
            except Exception:  # noqa: BLE001 - a missing image file must not stop a campaign
                logger.warning("Logo of library %s could not be rendered", lib_id)
        result[lib_id] = Branding(lib, sender, "", logo_url, transport, from_address)
    return result


def local_paragraphs(notice_id: int, brandings: dict[int, Branding]) -> None:
    rows = LibraryParticipation.objects.filter(notice_id=notice_id).exclude(local_paragraph="")
    by_path = {p.library.path: p.local_paragraph for p in rows.select_related("library")}
    if not by_path:
        return
    for branding in brandings.values():
        for path in branding.library.ancestor_paths():
            branding.local_paragraph = by_path.get(path, branding.local_paragraph)


# -- connections ---------------------------------------------------------------------------------


class Connections:
    """One open connection per distinct sender account, for the length of a batch."""

    def __init__(self):
        self.open: dict[tuple | None, object] = {}
        self.pipelines: dict[tuple | None, Pipeline] = {}

    def for_sender(self, sender: LibrarySender | None):
        key = sender.connection_key() if sender else None
        conn = self.open.get(key)
        if conn is None:
            if key is None:
                conn = get_connection(setting("EMAIL_BACKEND", None))
            elif key[0] == "backend":
                conn = get_connection(sender.backend, **sender.backend_options)
            else:
                conn = get_connection(
                    "django.core.mail.backends.smtp.EmailBackend",
                    host=sender.smtp_host,
                    port=sender.smtp_port,
                    username=sender.smtp_username or None,
                    password=sender.smtp_password or None,
                    use_tls=sender.smtp_use_tls,
                    timeout=30,
                )
            conn.open()
            self.open[key] = conn
        return conn

    def pipeline(self, sender: LibrarySender | None) -> Pipeline | None:
        """The raw SMTP session of the sender's open connection, if it is one."""
        key = sender.connection_key() if sender else None
        if key not in self.pipelines:
            conn = self.open.get(key)
            smtp = getattr(conn, "connection", None) if isinstance(conn, SMTPBackend) else None
            if smtp is None:
                return None
            self.pipelines[key] = Pipeline(smtp)
        return self.pipelines[key]

    def drain(self) -> list[tuple]:
        return [done for pipeline in self.pipelines.values() for done in pipeline.drain()]

    def reset(self, sender: LibrarySender | None) -> None:
        key = sender.connection_key() if sender else None
        self._close(key, self.open.pop(key, None))

    def close(self) -> None:
        for key, conn in list(self.open.items()):
            self._close(key, conn)
        self.open.clear()

    def _close(self, key, conn) -> None:
        pipeline = self.pipelines.pop(key, None)
        if conn is None:
            return
        if pipeline is not None and pipeline.in_flight():
            # Left mid-transaction by an error: drop the socket. QUIT could be read as part
            # of a message's content and never answered; a content not ended by its dot is
            # discarded by the server, and rows without an outcome stay leased, to be sent
            # again after the lease (as for a worker that died).
            pipeline.smtp.close()
        with contextlib.suppress(Exception):  # closing a broken connection
            conn.close()


class TemporaryFailure(Exception):
    pass


class PermanentFailure(Exception):
    pass


def classify(exc: Exception) -> Exception:
    """A 4xx reply or a dropped connection is worth retrying; a 5xx reply is not."""
    code = None
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code = next(iter(exc.recipients.values()))[0]
        text = next(iter(exc.recipients.values()))[1]
    elif isinstance(exc, smtplib.SMTPResponseException):
        code, text = exc.smtp_code, exc.smtp_error
    else:
        return TemporaryFailure(type(exc).__name__)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    message = f"{code} {text}"[:300]
    if 400 <= code < 500:
        return TemporaryFailure(message)
    return PermanentFailure(message)


# -- the batch -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    sent: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    retry: list[tuple[int, str, int]] = field(default_factory=list)  # id, error, attempts


def backoff(attempts: int) -> float:
    base = float(setting("RETRY_BASE_SECONDS", 60))
    return min(base * (2 ** max(attempts - 1, 0)), float(setting("RETRY_MAX_SECONDS", 3600)))


def flush(outcome: Outcome, worker: str, unsent: list[int], lease: float) -> None:
    """Record what happened since the last flush; renew the lease on the rest."""
    now = timezone.now()
    mine = Delivery.objects.filter(worker=worker, state=Delivery.State.SENDING)
    with transaction.atomic():
        if outcome.sent:
            mine.filter(id__in=outcome.sent).update(
                state=Delivery.State.SENT, sent_at=now, lease_until=None, last_error=""
            )
        for delivery_id, error in outcome.failed:
            mine.filter(id=delivery_id).update(
                state=Delivery.State.FAILED, last_error=error, lease_until=None
            )
        max_attempts = int(setting("MAX_ATTEMPTS", 5))
        for delivery_id, error, attempts in outcome.retry:
            if attempts >= max_attempts:
                mine.filter(id=delivery_id).update(
                    state=Delivery.State.FAILED, last_error=error, lease_until=None
                )
            else:
                mine.filter(id=delivery_id).update(
                    state=Delivery.State.QUEUED,
                    last_error=error,
                    lease_until=None,
                    worker="",
                    due_at=now + timedelta(seconds=backoff(attempts)),
                )
        if unsent:
            mine.filter(id__in=unsent).update(lease_until=now + timedelta(seconds=lease))
    outcome.sent.clear()
    outcome.failed.clear()
    outcome.retry.clear()


def release(worker: str, ids: list[int], cancelled: bool, wait: float | None = None) -> None:
    """Give back rows this worker claimed but did not send (pause, cancel, rate limit);
    ``wait``: not to be claimed again for that many seconds (set in the same update, so no
    other worker takes them in between)."""
    mine = Delivery.objects.filter(worker=worker, state=Delivery.State.SENDING, id__in=ids)
    if cancelled:
        mine.update(state=Delivery.State.SKIPPED, lease_until=None, last_error="cancelled")
    else:
        due_at = timezone.now() + timedelta(seconds=wait) if wait else None
        mine.update(
            state=Delivery.State.QUEUED,
            lease_until=None,
            worker="",
            attempts=F("attempts") - 1,
            due_at=due_at,
        )


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    stopped: str = ""  # "paused", "cancelled", "rate" when the batch stopped early
    retry_in: float | None = None


@functools.cache
def name_fallback(language: str) -> str:
    """What a greeting says for a patron whose first name the library does not have
    ("Dear reader," rather than "Dear ,"), in the message's language."""
    with translation.override(language):
        return translation.pgettext("greeting for a patron without a first name", "reader")


def first_name_of(row: Row) -> str:
    return (row.first_name or "").strip() or name_fallback(row.language)


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


_PLAIN_ADDRESS = re.compile(r"[^\s<>()\[\]\\,;:@\"]+@[^\s<>()\[\]\\,;:@\"]+")


@functools.lru_cache(maxsize=1024)
def _quoted(address: str) -> str:
    return smtplib.quoteaddr(address)


def envelope_address(address: str) -> str:
    """``<address>`` as smtplib's ``quoteaddr`` gives it, without its parser for the plain
    addresses patrons have (the parser was a fifth of a worker's time); senders, which may
    carry a name, are parsed once each."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return _quoted(address)


def needs_dot_stuffing(data: bytes) -> bool:
    """A line starting with a dot, which must be doubled (RFC 5321 4.5.2); rare in a notice,
    and a substring test is far cheaper than the substitution."""
    return data.startswith(b".") or b"\n." in data


class Pipeline:
    """Messages over one open SMTP session, one round trip each where the server offers
    PIPELINING (RFC 2920), and the next message rendered while the server answers.

    A message's content is held until the next message's MAIL, RCPT and DATA can go out
    in the same write: ``content . MAIL RCPT DATA``; that is the RFC's own grouping (``.``
    with the next commands, DATA last). The four replies are read only when the message
    after that is ready, so the server works while this process renders. A message's
    outcome is therefore known two messages later, or at :meth:`drain`. Failures are what
    ``smtplib.SMTP.sendmail`` raises, so they are classified the same way; a broken
    session fails every message in flight on it, each to be retried.
    """

    def __init__(self, smtp: smtplib.SMTP):
        self.smtp = smtp
        self.held = None  # (tag, content with its final dot): accepted by 354, not yet sent
        self.awaiting = None  # (tag whose content was written or None, envelope written)
        self._pipelined: bool | None = None

    def pipelined(self) -> bool:
        """Whether the server offers PIPELINING; asked once per session, not per message."""
        if self._pipelined is None:
            self.smtp.ehlo_or_helo_if_needed()  # the server's extensions are known after EHLO
            self._pipelined = bool(setting("PIPELINING", True) and self.smtp.has_extn("pipelining"))
        return self._pipelined

    def in_flight(self) -> bool:
        return self.held is not None or self.awaiting is not None

    def send(self, tag, sender: str, recipient: str, data: bytes) -> list[tuple]:
        """Queue one message; returns ``(tag, error or None)`` of each message finished."""
        smtp = self.smtp
        if not self.pipelined():
            try:
                smtp.sendmail(sender, [recipient], data)
            except Exception as exc:  # noqa: BLE001 - returned to be recorded on its row
                return [(tag, exc)]
            return [(tag, None)]
        finished = self._settle()
        size = f" SIZE={len(data)}" if smtp.has_extn("size") else ""
        mail_from, rcpt_to = envelope_address(sender), envelope_address(recipient)
        envelope = f"MAIL FROM:{mail_from}{size}\r\nRCPT TO:{rcpt_to}\r\nDATA\r\n".encode()
        held, self.held = self.held, None
        try:
            smtp.send(held[1] + envelope if held else envelope)
        except Exception as exc:  # noqa: BLE001 - the session is broken
            lost = [held[0]] if held else []
            return [*finished, *((t, exc) for t in lost), (tag, exc)]
        self.awaiting = (held[0] if held else None, (tag, sender, recipient, data))
        return finished

    def drain(self) -> list[tuple]:
        """Read what is owed, send the held content and read its reply: nothing in flight."""
        finished = self._settle()
        held, self.held = self.held, None
        if held is None:
            return finished
        try:
            self.smtp.send(held[1])
            return [*finished, (held[0], self._content_reply())]
        except Exception as exc:  # noqa: BLE001 - the session is broken
            return [*finished, (held[0], exc)]

    def _settle(self) -> list[tuple]:
        """Read the replies to the last write: its content's, then its envelope's."""
        if self.awaiting is None:
            return []
        content_tag, (tag, sender, recipient, data) = self.awaiting
        self.awaiting = None
        smtp, finished = self.smtp, []
        try:
            if content_tag is not None:
                finished.append((content_tag, self._content_reply()))
            mail, rcpt, data_reply = smtp.getreply(), smtp.getreply(), smtp.getreply()
        except Exception as exc:  # noqa: BLE001 - the session is broken
            lost = [content_tag] if content_tag is not None and not finished else []
            return [*finished, *((t, exc) for t in lost), (tag, exc)]
        try:
            error = self._envelope_error(sender, recipient, mail, rcpt, data_reply)
        except Exception as exc:  # noqa: BLE001 - broken while resetting
            error = exc
        if error is not None:
            return [*finished, (tag, error)]
        body = re.sub(rb"(?m)^\.", b"..", data) if needs_dot_stuffing(data) else data
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.held = (tag, body + b".\r\n")
        return finished

    def _content_reply(self) -> Exception | None:
        code, reply = self.smtp.getreply()
        return None if code == 250 else smtplib.SMTPDataError(code, reply)

    def _envelope_error(self, sender, recipient, mail, rcpt, data_reply) -> Exception | None:
        smtp = self.smtp
        if data_reply[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
            # A server that let DATA through after refusing MAIL or RCPT: end it empty.
            smtp.send(b".\r\n")
            smtp.getreply()
        if mail[0] != 250:
            smtp.rset()
            return smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
        if rcpt[0] not in (250, 251):
            smtp.rset()
            return smtplib.SMTPRecipientsRefused({recipient: rcpt})
        if data_reply[0] != 354:
            smtp.rset()
            return smtplib.SMTPDataError(*data_reply)
        return None


def unsubscribe_prefix() -> tuple[str, str]:
    """The unsubscribe URL before and after its token, reversed once rather than per message."""
    url = base_url() + reverse("patron_notices:unsubscribe", args=["TOKEN"])
    before, _token, after = url.rpartition("TOKEN")
    return before, after


def message_id_domain() -> str:
    return setting("MESSAGE_ID_DOMAIN", "concord.invalid")


def notice_state(notice_id: int) -> str:
    return Notice.objects.filter(pk=notice_id).values_list("state", flat=True).first() or ""


# Branding and rendered groups of the notices this process sends, kept across batches: a
# batch of 500 rows spans hundreds of (library, language) groups, so rendering per batch
# would render nearly every message. A sending notice's text and participations no longer
# change. Bounded: a few notices, each at most libraries x languages groups.
# Keyed by notice and generation: resuming or retrying a notice (after fixing a library's
# mail account, say) makes every worker read the senders and render again.
_GROUPS: OrderedDict[tuple[int, int], tuple[dict, dict, dict]] = OrderedDict()
_GROUP_NOTICES = 4


def _group_cache(key: tuple[int, int]) -> tuple[dict, dict, dict]:
    if key in _GROUPS:
        _GROUPS.move_to_end(key)
    else:
        _GROUPS[key] = ({}, {}, {})
        while len(_GROUPS) > _GROUP_NOTICES:
            _GROUPS.popitem(last=False)
    return _GROUPS[key]


def send_batch(notice_id: int, worker: str | None = None) -> BatchResult:
    """Claim one batch of the notice's rows and send it. Safe to call any number of times."""
    worker = worker or worker_name()
    result = BatchResult()
    size = int(setting("BATCH_SIZE", 500))
    lease = float(setting("LEASE_SECONDS", 120))
    check_every = int(setting("CHECK_EVERY", 50))
    # Also by time: against a slow server 50 messages can take minutes, and a pause must
    # take effect within seconds.
    check_seconds = float(setting("CHECK_SECONDS", 2))
    notice = patiently(time.monotonic() + lease, Notice.objects.filter(pk=notice_id).first)
    if notice is None or notice.state != Notice.State.SENDING:
        return result
    leased_at = time.monotonic()
    rows = claim_patiently(notice_id, worker, size, lease)
    result.claimed = len(rows)
    if not rows:
        return result

    def held() -> float:
        """Until when the database may be waited for: the rows' lease, less a margin."""
        return leased_at + lease - lease_margin(lease)

    from . import ratelimit

    rows, deferred, wait = patiently(
        held(), ratelimit.admit, notice, rows, errors=(*TRANSIENT, *REDIS_TRANSIENT)
    )
    if deferred:
        patiently(held(), release, worker, [r.id for r in deferred], cancelled=False, wait=wait)
        result.stopped, result.retry_in = "rate", wait
    brandings, prepared, serialised = _group_cache((notice_id, notice.generation))
    missing = {r.library_id for r in rows} - brandings.keys()
    if missing:

        def fresh_brandings():
            fresh = branding_for(missing)
            local_paragraphs(notice_id, fresh)
            return fresh

        brandings.update(patiently(held(), fresh_brandings))
    prefix = unsubscribe_prefix()
    connections = Connections()
    outcome = Outcome()
    pending = [r.id for r in rows]

    def record(finished: list[tuple]) -> None:
        for done, exc in finished:
            if exc is None:
                outcome.sent.append(done.id)
                result.sent += 1
                continue
            failure = classify(exc)
            if isinstance(failure, PermanentFailure):
                outcome.failed.append((done.id, str(failure)))
                result.failed += 1
            else:
                outcome.retry.append((done.id, str(failure), done.attempts))
                result.retried += 1
                delay = backoff(done.attempts)
                result.retry_in = min(result.retry_in or delay, delay)
            if not isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError):
                connections.reset(brandings[done.library_id].transport)  # may be broken

    checked_at = time.monotonic()
    try:
        for index, row in enumerate(rows):
            due = index % check_every == 0 or time.monotonic() - checked_at >= check_seconds
            if index and due:
                checked_at = time.monotonic()
                record(connections.drain())  # nothing in flight while the rows are recorded
                # The rest's lease is renewed only once a third of it has gone: renewing at
                # every check rewrote each row about four times in a fast batch.
                renew = time.monotonic() - leased_at > lease / 3
                # Through a database restart: the outcomes wait here, then are recorded.
                renewed_at = time.monotonic()
                patiently(held(), flush, outcome, worker, pending[index:] if renew else [], lease)
                leased_at = renewed_at if renew else leased_at
                state = patiently(held(), notice_state, notice_id)
                if state != Notice.State.SENDING:
                    cancelled = state == Notice.State.CANCELLED
                    patiently(held(), release, worker, pending[index:], cancelled=cancelled)
                    result.stopped = state
                    return result
            branding = brandings[row.library_id]
            key = (row.library_id, row.language)
            if key not in prepared:
                prepared[key] = patiently(held(), prepare, notice, branding, row.language)
                serialised[key] = Serialised(notice, prepared[key], branding, prefix)
            try:
                conn = connections.for_sender(branding.transport)
                data = serialised[key].render(notice_id, row)
                pipeline = connections.pipeline(branding.transport)
                if data is not None and pipeline is not None:
                    record(pipeline.send(row, serialised[key].envelope_from, row.email, data))
                    continue
                if pipeline is not None:
                    record(pipeline.drain())  # the ordinary path needs the session idle
                build_message(notice, row, prepared[key], branding, conn).send()
            except Exception as exc:  # noqa: BLE001 - every failure is recorded on its row
                record([(row, exc)])
            else:
                record([(row, None)])
        record(connections.drain())
        patiently(held(), flush, outcome, worker, [], lease)
    finally:
        connections.close()
    return result


def next_due(notice_id: int) -> float | None:
    """Seconds until the first queued row of a sending notice is due (0: one is due now);
    None when none is queued, or the notice is not sending."""
    from django.db.models import Min

    queued = Delivery.objects.filter(
        notice_id=notice_id, notice__state=Notice.State.SENDING, state=Delivery.State.QUEUED
    )
    if queued.filter(due_at__isnull=True).exists():
        return 0.0
    due = queued.aggregate(due=Min("due_at"))["due"]
    if due is None:
        return None
    return max((due - timezone.now()).total_seconds(), 0.0)


def finish_if_done(notice_id: int) -> bool:
    """Mark a sending notice done once no row is queued or in flight."""
    busy = Delivery.objects.filter(
        notice_id=notice_id, state__in=[Delivery.State.QUEUED, Delivery.State.SENDING]
    )
    if busy.exists():
        return False
    return bool(
        Notice.objects.filter(pk=notice_id, state=Notice.State.SENDING).update(
            state=Notice.State.DONE, finished_at=timezone.now()
        )
    )


def reap(now=None, notice_id: int | None = None) -> int:
    """Re-queue rows whose worker's lease ran out (the worker died, or waited longer than
    its lease for the database); of one notice, or of all. Idempotent."""
    now = now or timezone.now()
    rows = Delivery.objects.filter(state=Delivery.State.SENDING, lease_until__lt=now)
    if notice_id is not None:
        rows = rows.filter(notice_id=notice_id)
    return rows.update(
        state=Delivery.State.QUEUED, worker="", lease_until=None, attempts=F("attempts") - 1
    )


# -- preview and test ----------------------------------------------------------------------------


def preview(notice: Notice, library: MemberLibrary, language: str, first_name: str) -> Prepared:
    """The message a patron of ``library`` would get, with ``first_name`` filled in."""
    brandings = branding_for({library.pk})
    local_paragraphs(notice.pk, brandings)
    prepared = prepare(notice, brandings[library.pk], language)
    name = html.escape(first_name)
    return Prepared(
        subject=prepared.subject.replace(FIRST_NAME, first_name),
        html=prepared.html.replace(FIRST_NAME, name).replace(UNSUBSCRIBE, "#"),
        text=prepared.text.replace(FIRST_NAME, first_name).replace(UNSUBSCRIBE, "#"),
    )


def archive_page(notice: Notice, library: MemberLibrary, language: str) -> Prepared:
    """The public web copy of the notice as ``library``'s patrons got it: no patron's data."""
    brandings = branding_for({library.pk})
    local_paragraphs(notice.pk, brandings)
    prepared = prepare(notice, brandings[library.pk], language, archive=True)
    with translation.override(language):
        reader = translation.pgettext("greeting on a notice's web page", "reader")
    return Prepared(
        subject=prepared.subject.replace(FIRST_NAME, reader),
        html=prepared.html.replace(FIRST_NAME, html.escape(reader)),
        text=prepared.text.replace(FIRST_NAME, reader),
    )


def send_test(notice: Notice, library: MemberLibrary, language: str, addresses: list[str]) -> int:
    """Send a marked test copy to each address through the library's own sender."""
    from django.utils.translation import gettext

    brandings = branding_for({library.pk})
    local_paragraphs(notice.pk, brandings)
    branding = brandings[library.pk]
    prepared = prepare(notice, branding, language)
    with translation.override(language):
        mark = gettext("[Test]")
    prepared.subject = f"{mark} {prepared.subject}"
    connections = Connections()
    try:
        conn = connections.for_sender(branding.transport)
        for address in addresses:
            # Delivery id 0: no row, so the unsubscribe link in a test leads nowhere.
            row = Row(0, library.pk, language, 0, address, "")
            message = build_message(notice, row, prepared, branding, conn)
            # Each test copy is a message of its own: mail clients thread (or drop) copies
            # that share a Message-ID.
            message.extra_headers["Message-ID"] = make_msgid(
                f"notice-{notice.pk}.test", domain=message_id_for(0, 0).rsplit("@", 1)[1][:-1]
            )
            message.send()
    finally:
        connections.close()
    return len(addresses)
