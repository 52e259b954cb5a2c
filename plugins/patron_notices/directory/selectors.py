"""Shared reads of the patron directory, each behind portal.access."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from portal import access
from portal.members.models import MemberLibrary

from ..rules import COUNTS, IMPORT, RECORDS, VIEW
from .models import ImportJob, Patron


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


def import_access(user, library: MemberLibrary) -> str | None:
    """How much of a library's imports ``user`` sees: "full" (its own communications people
    and director: the problems download too), "counts" (the office), or None."""
    if access.can(user, IMPORT, library) or access.can(user, VIEW, library):
        return "full"
    if access.can(user, COUNTS, library):
        return "counts"
    return None


def imports_for(user) -> tuple[QuerySet, set[int]]:
    """The import jobs ``user`` may watch, newest first, and the library ids seen in full."""
    full = set(access.libraries_for(user, IMPORT).values_list("pk", flat=True))
    full |= set(access.libraries_for(user, VIEW).values_list("pk", flat=True))
    counted = access.libraries_for(user, COUNTS).values("pk")
    jobs = (
        ImportJob.objects.filter(Q(library__in=full) | Q(library__in=counted))
        .select_related("library")
        .order_by("-created_at", "-pk")
    )
    return jobs, full


def import_progress(job) -> dict:
    """Counts and phase of an import: no patron data, so the office may read it too."""
    return {
        "id": job.pk,
        "status": job.status,
        "label": str(job.get_status_display()),
        "phase": job.phase,
        "phase_label": str(job.get_phase_display()),
        "percent": job.percent,
        "running": job.status in (job.Status.QUEUED, job.Status.RUNNING),
        "rows_read": job.rows_read,
        "rows_imported": job.rows_imported,
        "rows_invalid": job.rows_invalid,
        "rows_expired": job.rows_expired,
    }
