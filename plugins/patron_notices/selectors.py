"""Shared reads of the patron directory, each behind portal.access."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from portal import access
from portal.members.models import MemberLibrary

from .models import Patron

VIEW = "patron_notices.view_patrons"
IMPORT = "patron_notices.import_patrons"
COUNTS = "patron_notices.view_patron_counts"
RECORDS = "patron_notices.view_patron_records"


def may_see_records(user, library: MemberLibrary) -> tuple[bool, bool]:
    """(allowed, audited): the library's own people, or someone explicitly granted (audited)."""
    if access.can(user, VIEW, library):
        return True, False
    if access.can(user, RECORDS, library):
        return True, True
    return False, False


def patrons_of(library: MemberLibrary, q: str = "") -> QuerySet[Patron]:
    patrons = Patron.objects.filter(library=library).select_related("home_branch")
    if q:
        patrons = patrons.filter(Q(card_number=q) | Q(last_name__iexact=q) | Q(email__iexact=q))
    return patrons.order_by("last_name", "first_name", "pk")


def counts_by_library(user) -> list[dict]:
    """Patron counts for the libraries ``user`` may count or see; one query."""
    counted = access.libraries_for(user, COUNTS).values("pk")
    seen = access.libraries_for(user, VIEW).values("pk")
    return list(
        MemberLibrary.objects.filter(Q(pk__in=counted) | Q(pk__in=seen))
        .annotate(
            patron_count=Count("patrons", filter=Q(patrons__expired_at__isnull=True)),
            expired_count=Count("patrons", filter=Q(patrons__expired_at__isnull=False)),
        )
        .filter(Q(patron_count__gt=0) | Q(kind__in=["library", "branch", "system"]))
        .order_by("path")
        .values("pk", "code", "name", "patron_count", "expired_count")
    )
