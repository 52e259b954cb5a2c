"""Shared pieces of the notice tests: a real SMTP server on loopback and a small audience."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

from aiosmtpd.controller import Controller
from django.conf import settings
from django.utils import timezone

from plugins.patron_notices.models import Contact, LibrarySender, Notice, Patron


class Recorder:
    """aiosmtpd handler: keeps every accepted message; can refuse chosen recipients."""

    def __init__(self, delay: float = 0.0, pipelining: bool = True):
        self.delay = delay  # seconds per message: lets a test act in mid-campaign
        self.pipelining = pipelining
        self.sessions = 0
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()
        self.temporary: Counter[str] = Counter()  # address -> how many 451 replies left
        self.permanent: set[str] = set()
        self.refused_content: set[str] = set()  # refused after the content: 554 to the dot
        self.drop_at: set[str] = set()  # the session is dropped at this message's dot, once

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # Offered as production servers (and Postfix's smtp-sink) do: the engine then
        # pipelines MAIL, RCPT and DATA (RFC 2920), which aiosmtpd reads line by line.
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            if address in self.permanent:
                return "550 5.1.1 No such user here"
            if self.temporary[address] > 0:
                self.temporary[address] -= 1
                return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            if set(envelope.rcpt_tos) & self.refused_content:
                return "554 5.6.0 Message content rejected"
            if set(envelope.rcpt_tos) & self.drop_at:
                self.drop_at -= set(envelope.rcpt_tos)
                server.transport.close()  # mid-pipeline: what was written after is lost
                return "421 4.3.2 Closing"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SMTPServer:
    def __init__(self, delay: float = 0.0, pipelining: bool = True):
        self.recorder = Recorder(delay, pipelining)
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def office_sender(root, port: int) -> LibrarySender:
    """The consortium's own mail account, which every library without one uses."""
    return LibrarySender.objects.create(
        library=root,
        from_email="notices@consortium.example",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_use_tls=False,
    )


def patron(library, card, email_address, first="", language="en", **fields) -> Patron:
    contact, _ = Contact.objects.get_or_create(email=email_address.lower())
    fields.setdefault("consent_given_at", timezone.now())
    return Patron.objects.create(
        library=library,
        card_number=card,
        first_name=first,
        email=email_address,
        preferred_language=language,
        contact=contact,
        **fields,
    )


def notice(author=None, category="general", **fields) -> Notice:
    versions = fields.pop(
        "versions",
        [
            (
                "version",
                {
                    "language": "en",
                    "subject": "Fines waived at {library_name}",
                    "body": [("paragraph", "<p>Dear {first_name}, fines are waived.</p>")],
                },
            ),
            (
                "version",
                {
                    "language": "fr",
                    "subject": "Amendes annulées à {library_name}",
                    "body": [("paragraph", "<p>Bonjour {first_name}, pas d'amendes.</p>")],
                },
            ),
        ],
    )
    fields.setdefault("title", "Closure")
    return Notice.objects.create(category=category, versions=versions, author=author, **fields)


def bulk_audience(library, count: int, prefix: str) -> list[str]:
    """``count`` consenting patrons of ``library`` built in two bulk inserts; their addresses."""
    now = timezone.now()
    addresses = [f"{prefix}{i}@example.net" for i in range(count)]
    Contact.objects.bulk_create([Contact(email=a) for a in addresses])
    contacts = dict(Contact.objects.filter(email__in=addresses).values_list("email", "pk"))
    Patron.objects.bulk_create(
        Patron(
            library=library,
            card_number=f"{prefix}{i}",
            first_name=f"P{i}",
            email=a,
            contact_id=contacts[a],
            consent_given_at=now,
        )
        for i, a in enumerate(addresses)
    )
    return addresses


class Workers:
    """Real ``celery -A portal worker`` processes on the test database and a queue of their own."""

    def __init__(self, queue: str, **env):
        from django.db import connection

        db = connection.settings_dict
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.patron_notices.worker_settings",
            "DATABASE_URL": url,
            "NOTICE_QUEUE": queue,
            **{k: str(v) for k, v in env.items()},
        }
        self.queue = queue
        self.procs: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        # One process per worker (solo pool): its pid is the worker name in the rows it claims.
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool=solo",
                "-Q",
                self.queue,
                "--loglevel=WARNING",
                "-n",
                f"{self.queue}-{len(self.procs)}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=settings.BASE_DIR,
            env=self.env,
        )
        self.procs.append(proc)
        return proc

    def name_of(self, proc) -> str:
        return f"{socket.gethostname()}:{proc.pid}"

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(predicate, timeout: float = 60, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not true within {timeout} s: {predicate.__doc__ or predicate}")
