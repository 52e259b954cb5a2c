"""Shared reads of notices, each for what the person may see."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from portal import access
from portal.members.models import MemberLibrary, Membership
from portal.members.selectors import consortium_root

from ..rules import DRAFT, SEND, TAKE_PART
from .models import Delivery, LibraryParticipation, Notice


def notice_libraries(user) -> set[int] | None:
    """The libraries whose side of a notice ``user`` sees: None for the office (every
    library), else the ids of the libraries they draft for or take part for."""
    if access.can(user, SEND, consortium_root()):
        return None
    ids = set(access.libraries_for(user, DRAFT).values_list("pk", flat=True))
    ids |= set(access.libraries_for(user, TAKE_PART).values_list("pk", flat=True))
    return ids


def notices_for(user) -> QuerySet:
    """The notices ``user`` sees in the admin: every one for the office; for someone who
    drafts, every notice past draft and the drafts of their libraries' authors."""
    if access.can(user, SEND, consortium_root()):
        return Notice.objects.all()
    drafting = access.libraries_for(user, DRAFT)
    authors = Membership.objects.filter(library__in=drafting).values("user_id")
    return Notice.objects.filter(~Q(state=Notice.State.DRAFT) | Q(author_id__in=authors))


def reaches(notice, library: MemberLibrary) -> bool:
    """The notice's audience includes ``library`` (no library chosen: every member); a
    system is reached through its branches, and a branch through its system."""
    chosen = [lib.path for lib in notice.libraries.all()]
    return not chosen or any(
        library.path.startswith(p) or p.startswith(library.path) for p in chosen
    )


def print_runs(notice, libraries: set[int] | None = None) -> QuerySet:
    runs = notice.print_runs.select_related("library").order_by("library__path")
    return runs if libraries is None else runs.filter(library_id__in=libraries)


def notice_progress(notice, libraries: set[int] | None = None) -> dict:
    """Sent, failed, remaining, rate and expected finish of a notice, with per-library counts
    for ``libraries`` (None: every library, for the office).

    Two grouped queries on the delivery report index, whatever the number of recipients.
    """
    by_library: dict[int, dict[str, int]] = {}
    totals = dict.fromkeys(Delivery.State.values, 0)
    rows = (
        Delivery.objects.filter(notice=notice)
        .values_list("library_id", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    for library_id, state, n in rows:
        by_library.setdefault(library_id, dict.fromkeys(Delivery.State.values, 0))[state] = n
        totals[state] += n
    if libraries is not None:
        by_library = {pk: counts for pk, counts in by_library.items() if pk in libraries}
    names = dict(
        MemberLibrary.objects.filter(pk__in=by_library).values_list("pk", "name").order_by()
    )
    remaining = totals["queued"] + totals["sending"]
    rate = expected = None
    if notice.started_at and totals["sent"]:
        end = notice.finished_at or timezone.now()
        seconds = max((end - notice.started_at).total_seconds(), 1.0)
        rate = totals["sent"] / seconds
        if remaining and notice.state == notice.State.SENDING:
            expected = timezone.now() + timezone.timedelta(seconds=remaining / rate)
    return {
        "state": notice.state,
        "state_label": str(notice.get_state_display()),
        "planned": notice.planned_count,
        "sent": totals["sent"],
        "failed": totals["failed"],
        "skipped": totals["skipped"],
        "remaining": remaining,
        "rate": round(rate, 1) if rate else None,
        "expected_finish": expected.isoformat() if expected else None,
        "libraries": sorted(
            ({"id": pk, "name": names.get(pk, ""), **counts} for pk, counts in by_library.items()),
            key=lambda r: r["name"],
        ),
    }


def participations(notice, libraries: set[int] | None = None) -> list:
    """What each member library did with the notice: every library for the office (None),
    else only ``libraries``; one query."""
    rows = LibraryParticipation.objects.filter(notice=notice)
    if libraries is not None:
        rows = rows.filter(library_id__in=libraries)
    return list(rows.select_related("library", "decided_by").order_by("library__path"))


def library_report(notice, library) -> dict:
    """Delivery counts of one library's patrons (its branches included) for its board."""
    counts = dict.fromkeys(Delivery.State.values, 0)
    counts.update(
        Delivery.objects.filter(notice=notice, library__path__startswith=library.path)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
        .order_by()
    )
    branches = list(
        Delivery.objects.filter(notice=notice, library__path__startswith=library.path)
        .values("library__name")
        .annotate(
            sent=Count("id", filter=Q(state="sent")),
            failed=Count("id", filter=Q(state="failed")),
            total=Count("id"),
        )
        .order_by("library__name")
    )
    return {"counts": counts, "total": sum(counts.values()), "branches": branches}


def notices_to_decide(user) -> list[tuple] | None:
    """(notice, library, participation or None) for each approved notice, still open to
    decisions, that reaches a library the user decides for (the top of each of their
    subtrees: a system's people decide for its branches). None: the user decides for no
    library. Four queries, whatever the number of notices and libraries."""
    libraries = list(access.libraries_for(user, "patron_notices.approve_notices").order_by("path"))
    if not libraries:
        return None
    paths = [lib.path for lib in libraries]
    tops = [
        lib for lib in libraries if not any(lib.path.startswith(p) and lib.path != p for p in paths)
    ]
    open_notices = list(
        Notice.objects.filter(state__in=(Notice.State.APPROVED, Notice.State.SCHEDULED))
        .filter(
            Q(participation_deadline__isnull=True) | Q(participation_deadline__gte=timezone.now())
        )
        .prefetch_related("libraries")
        .order_by("send_at", "pk")
    )
    decided = {
        (p.notice_id, p.library_id): p
        for p in LibraryParticipation.objects.filter(notice__in=open_notices, library__in=tops)
    }
    return [
        (notice, library, decided.get((notice.pk, library.pk)))
        for notice in open_notices
        for library in tops
        if reaches(notice, library)
    ]
