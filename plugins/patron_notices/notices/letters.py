"""Printed letters: the notice on paper for patrons without an email address.

When a notice with ``include_print`` starts sending, each member library whose patrons
qualify gets one print run: a PDF of letters (its letterhead, the patron's address block,
the notice in the patron's language, the library's local paragraph), rendered by a Celery
task and kept in the "private" storage. Only the library's own communications people and
director, and the office, download it (``approve_notices`` on that library).
"""

from __future__ import annotations

import html
import logging

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone, translation

from portal.members.models import MemberLibrary
from portal.pdf import render_pdf

from ..directory.models import Patron
from . import planning, rendering
from .models import Notice, PrintRun

logger = logging.getLogger(__name__)

DOWNLOAD = "patron_notices.approve_notices"


def print_audience(notice: Notice) -> QuerySet[Patron]:
    """Cards in the notice's audience with no email address but a postal address.

    The same choices as the email audience (libraries with their branches, branches,
    categories, languages; consent; no suppression; libraries switched off or opted out
    left out), one letter per card: without an address there is no person to deduplicate.
    """
    patrons = Patron.objects.filter(
        expired_at__isnull=True,
        consent_given_at__isnull=False,
        suppression="",
        email="",
        postal_address__isnull=False,
    ).filter(Q(contact__isnull=True) | Q(contact__unsubscribed_all_at__isnull=True))
    chosen = list(notice.libraries.values_list("path", flat=True))
    if chosen:
        patrons = patrons.filter(planning.paths_q("library", chosen))
    branches = list(notice.branches.values_list("path", flat=True))
    if branches:
        patrons = patrons.filter(planning.paths_q("home_branch", branches))
    if notice.patron_categories:
        patrons = patrons.filter(category__in=notice.patron_categories)
    patrons = patrons.annotate(
        wanted_language=Coalesce(NullIf(F("contact__language"), Value("")), F("preferred_language"))
    )
    if notice.languages:
        patrons = patrons.filter(wanted_language__in=notice.languages)
    excluded = planning.excluded_library_ids(notice)
    if excluded:
        patrons = patrons.exclude(library_id__in=excluded)
    return patrons


def count_letters(notice: Notice) -> int:
    return print_audience(notice).count()


def do_plan_print_runs(notice: Notice) -> list[int]:
    """One queued run per library with letters to print; planning twice adds none."""
    counts = (
        print_audience(notice)
        .values_list("library_id")
        .annotate(n=Count("id"))
        .values_list("library_id", "n")
        .order_by()
    )
    ids = []
    for library_id, n in counts:
        try:
            with transaction.atomic():
                run, _created = PrintRun.objects.get_or_create(
                    notice=notice, library_id=library_id, defaults={"letters": n}
                )
        except IntegrityError:  # planned meanwhile by another process
            run = PrintRun.objects.get(notice=notice, library_id=library_id)
        if run.state == PrintRun.State.QUEUED:
            ids.append(run.pk)
    return ids


def _letter_parts(notice: Notice, library: MemberLibrary, language: str) -> dict:
    """Subject and body of the notice for one (library, language), placeholders filled in
    except the patron's first name."""
    brandings = rendering.branding_for({library.pk})
    rendering.local_paragraphs(notice.pk, brandings)
    branding = brandings[library.pk]
    version = notice.version_for(language)
    values = branding.placeholders()
    with translation.override(version["language"]):
        body = version["body"].render_as_block(context={"primary_colour": library.primary_colour})
    return {
        "language": version["language"],
        "subject": rendering.fill(version["subject"], values, escape=False),
        "body": rendering.fill(str(body), values, escape=True),
        "branding": branding,
    }


def render_run(run: PrintRun) -> tuple[bytes, int]:

    notice, library = run.notice, run.library
    patrons = (
        print_audience(notice)
        .filter(library=library)
        .select_related("postal_address")
        .order_by("last_name", "first_name", "pk")
    )
    parts: dict[str, dict] = {}
    letters = []
    for patron in patrons.iterator(chunk_size=500):
        language = patron.wanted_language or notice.version_languages[0]
        if language not in parts:
            parts[language] = _letter_parts(notice, library, language)
        part = parts[language]
        first = patron.first_name or ""
        letters.append(
            {
                "name": f"{patron.first_name} {patron.last_name}".strip(),
                "address": patron.postal_address.lines.strip().splitlines(),
                "language": part["language"],
                "subject": part["subject"].replace(rendering.FIRST_NAME, first),
                "body": part["body"].replace(rendering.FIRST_NAME, html.escape(first)),
            }
        )
    branding = next(iter(parts.values()))["branding"] if parts else None
    return render_pdf(
        "patron_notices/pdf/letters.html",
        {
            "notice": notice,
            "library": library,
            "reply_to": branding.reply_to if branding else library.reply_to,
            "local_paragraph": branding.local_paragraph if branding else "",
            "letters": letters,
            "date": timezone.localdate(),
        },
    ), len(letters)


def do_render_print_run(run_id: int) -> str:
    """Render and store one run's PDF; a second call on a finished run does nothing."""
    run = PrintRun.objects.select_related("notice", "library").filter(pk=run_id).first()
    if run is None or run.state != PrintRun.State.QUEUED:
        return "skipped"
    try:
        pdf, count = render_run(run)
    except Exception as exc:  # noqa: BLE001 - recorded on the run, without patron data
        logger.error("Print run %s failed: %s", run_id, type(exc).__name__)
        PrintRun.objects.filter(pk=run_id).update(
            state=PrintRun.State.FAILED, error=type(exc).__name__, finished_at=timezone.now()
        )
        return PrintRun.State.FAILED
    name = f"notice-{run.notice_id}-{run.library.code}-letters.pdf"
    run.file.save(name, ContentFile(pdf), save=False)
    run.state, run.letters, run.finished_at = PrintRun.State.DONE, count, timezone.now()
    run.save(update_fields=["file", "state", "letters", "finished_at"])
    return PrintRun.State.DONE
