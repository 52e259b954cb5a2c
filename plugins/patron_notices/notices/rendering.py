"""A notice rendered for one library and language, with the patron's parts left to fill in."""

from __future__ import annotations

import functools
import html
import logging
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from portal.members.models import MemberLibrary

from .leases import Row
from .links import base_url
from .models import LibraryParticipation, LibrarySender, Notice

logger = logging.getLogger(__name__)


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


def fill(text: str, values: dict[str, str], escape: bool) -> str:
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
    markup = fill(markup, values, escape=True)
    subject = fill(version["subject"], values, escape=False)
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


@functools.cache
def name_fallback(language: str) -> str:
    """What a greeting says for a patron whose first name the library does not have
    ("Dear reader," rather than "Dear ,"), in the message's language."""
    with translation.override(language):
        return translation.pgettext("greeting for a patron without a first name", "reader")


def first_name_of(row: Row) -> str:
    return (row.first_name or "").strip() or name_fallback(row.language)


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
