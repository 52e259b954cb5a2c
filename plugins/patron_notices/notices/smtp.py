"""Talking to mail servers: one connection per sender account, pipelined SMTP, and what a
failure means for a retry."""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import smtplib

from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from ..conf import conf
from .models import LibrarySender

logger = logging.getLogger(__name__)


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
                conn = get_connection(conf().email_backend)
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
            self._pipelined = bool(conf().pipelining and self.smtp.has_extn("pipelining"))
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
