"""Who receives a notice: the audience, counted and then snapshotted into delivery rows.

The snapshot is one ``INSERT ... SELECT`` in the database, so a million patrons never
pass through Python. One row per contact: a person with cards at three libraries gets one
message, from the library they used most recently (else their oldest card).
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When, Window
from django.db.models.functions import Coalesce, NullIf, RowNumber
from django.utils import timezone

from portal.db import refresh_statistics
from portal.members.models import MemberLibrary
from portal.members.switches import enabled_plugins_by_library

from ..directory.models import Patron
from .models import Delivery, LibraryParticipation, Notice

PLUGIN = "patron_notices"
# Planned rows from which the delivery table's statistics are refreshed at once.
ANALYZE_FROM = 10_000

# The contact's kind of notice each category needs; emergencies reach everyone who has not
# unsubscribed altogether.
CATEGORY_KIND = {
    Notice.Category.SERVICE: "services",
    Notice.Category.GENERAL: "general",
    Notice.Category.EMERGENCY: None,
}


def excluded_library_ids(notice: Notice) -> set[int]:
    """Libraries left out: the plugin switched off for them, or they opted out (with branches)."""
    libraries = list(MemberLibrary.objects.only("id", "path", "depth"))
    enabled = enabled_plugins_by_library(libraries)
    off = {lib.pk for lib in libraries if PLUGIN not in enabled[lib.pk]}
    opted = list(
        LibraryParticipation.objects.filter(
            notice=notice, decision=LibraryParticipation.Decision.OPTED_OUT
        ).values_list("library__path", flat=True)
    )
    if opted:
        off |= {lib.pk for lib in libraries if any(lib.path.startswith(p) for p in opted)}
    return off


def paths_q(field: str, paths: list[str]) -> Q:
    q = Q()
    for path in paths:
        q |= Q(**{f"{field}__path__startswith": path})
    return q


def audience(notice: Notice) -> QuerySet[Patron]:
    """Every patron card the notice may reach, before deduplication by contact."""
    patrons = Patron.objects.filter(
        contact__isnull=False,
        expired_at__isnull=True,
        consent_given_at__isnull=False,
        suppression="",
        contact__unsubscribed_all_at__isnull=True,
    ).exclude(contact__email="")
    kind = CATEGORY_KIND[notice.category]
    if kind:
        if connection.vendor == "postgresql":
            patrons = patrons.filter(contact__notice_kinds__contains=[kind])
        else:  # JSON containment is PostgreSQL's; the stored list is small and quoted
            patrons = patrons.filter(contact__notice_kinds__icontains=f'"{kind}"')
    chosen = list(notice.libraries.values_list("path", flat=True))
    if chosen:
        patrons = patrons.filter(paths_q("library", chosen))
    branches = list(notice.branches.values_list("path", flat=True))
    if branches:
        patrons = patrons.filter(paths_q("home_branch", branches))
    if notice.patron_categories:
        patrons = patrons.filter(category__in=notice.patron_categories)
    patrons = patrons.annotate(
        wanted_language=Coalesce(NullIf(F("contact__language"), Value("")), F("preferred_language"))
    )
    if notice.languages:
        patrons = patrons.filter(wanted_language__in=notice.languages)
    excluded = excluded_library_ids(notice)
    if excluded:
        patrons = patrons.exclude(library_id__in=excluded)
    return patrons


def _chosen_cards(notice: Notice) -> QuerySet:
    """One card per contact, the one whose library brands the message."""
    languages = notice.version_languages
    return (
        audience(notice)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("contact_id")],
                order_by=[
                    F("last_used_at").desc(nulls_last=True),
                    F("created_at").asc(),
                    F("id").asc(),
                ],
            ),
            send_language=Case(
                When(wanted_language__in=languages, then=F("wanted_language")),
                default=Value(languages[0]),
            ),
        )
        .filter(rank=1)
    )


def count_recipients(notice: Notice) -> int:
    """How many messages the notice would send now, after deduplication."""
    return audience(notice).values("contact_id").distinct().count()


@transaction.atomic
def do_plan(notice: Notice) -> int:
    """Snapshot the recipients into delivery rows; planning twice adds no duplicates."""
    select = _chosen_cards(notice).values_list("contact_id", "id", "library_id", "send_language")
    sql, params = select.query.sql_with_params()
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (notice_id, contact_id, patron_id, library_id, language,"  # noqa: S608
            " state, attempts, last_error, worker)"
            f" SELECT %s, chosen.* , 'queued', 0, '', '' FROM ({sql}) AS chosen"
            # SQLite cannot tell ON CONFLICT from a join's ON without a WHERE here.
            " WHERE 1 = 1 ON CONFLICT (notice_id, contact_id) DO NOTHING",
            [notice.pk, *params],
        )
    planned = Delivery.objects.filter(notice=notice).count()
    if planned >= ANALYZE_FROM:
        refresh_statistics(Delivery)  # the workers' claims start at once
    Notice.objects.filter(pk=notice.pk).update(planned_count=planned, planned_at=timezone.now())
    notice.planned_count = planned
    return planned
