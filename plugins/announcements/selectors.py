"""Shared reads: which announcements reach whom, in a number of queries that does not grow."""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from operator import or_

from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    Exists,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone

from portal import access
from portal.members.models import MemberLibrary, Membership
from portal.members.roles import permissions_of_role
from portal.members.selectors import consortium_root
from portal.members.switches import enabled_filter, enabled_plugins_by_library

from .models import AnnouncementPage, AnnouncementPreference, AnnouncementRead

VIEW = "announcements.view_announcements"
PUBLISH = "announcements.publish_announcements"
MANAGE = "announcements.manage_announcements"

Targets = AnnouncementPage.audience_libraries.through


def live() -> QuerySet[AnnouncementPage]:
    """Published and not yet expired (even if the scheduler has not unpublished it yet)."""
    now = timezone.now()
    return AnnouncementPage.objects.live().filter(Q(expire_at__isnull=True) | Q(expire_at__gt=now))


def _reaches(membership: Membership) -> Q:
    """Announcements addressed to the holder of ``membership``.

    A target reaches its own staff, its branches' staff (a system with its branches) and
    the staff of the system above it, whose role reaches that branch too.
    """
    lib = membership.library
    if lib.is_consortium:
        # A role at the consortium itself is not every library's staff.
        match = Q(memberlibrary__path=lib.path)
    else:
        match = Q(memberlibrary__path__in=lib.ancestor_paths()) | Q(
            memberlibrary__path__startswith=lib.path
        )
    targeted = Exists(Targets.objects.filter(announcementpage_id=OuterRef("pk")).filter(match))
    where = Q(audience=AnnouncementPage.Audience.EVERYONE) | Q(targeted)
    role = Q(audience_roles="") | Q(audience_roles__contains=f",{membership.role},")
    return where & role


def _reading_memberships(user, libraries: Iterable[MemberLibrary] | None) -> list[Membership]:
    """The user's memberships that let them read announcements where the plugin is on."""
    memberships = [m for m in access.memberships_of(user) if VIEW in permissions_of_role(m.role)]
    if libraries is None:
        enabled = enabled_plugins_by_library([m.library for m in memberships])
        return [m for m in memberships if "announcements" in enabled.get(m.library_id, ())]
    ids = {lib.pk for lib in libraries}
    return [m for m in memberships if m.library_id in ids]


def announcements_for(
    user, libraries: Iterable[MemberLibrary] | None = None
) -> QuerySet[AnnouncementPage]:
    """Live announcements addressed to ``user``, newest first, with ``is_read`` and ``pinned``.

    ``libraries`` are the libraries where the plugin is on (the dashboard already knows
    them); without it two queries find out. The result is one query whatever the data.
    """
    pages = live()
    reaches_none = False
    if not access.is_consortium_admin(user):
        memberships = _reading_memberships(user, libraries)
        if memberships:
            pages = pages.filter(reduce(or_, (_reaches(m) for m in memberships)))
        else:
            reaches_none = True
    pages = pages.annotate(
        is_read=Exists(AnnouncementRead.objects.filter(user=user, page=OuterRef("pk"))),
        pinned=Case(
            When(priority=AnnouncementPage.Priority.URGENT, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        ),
    ).order_by("-first_published_at", "-pk")
    # Empty, but with the annotations the callers order and count by.
    return pages.none() if reaches_none else pages


def for_dashboard(user, libraries=None, limit: int = 8) -> list[AnnouncementPage]:
    """Urgent ones pinned on top, then unread before read, newest first."""
    return list(
        announcements_for(user, libraries).order_by(
            "-pinned", "is_read", "-first_published_at", "-pk"
        )[:limit]
    )


def unread_count(user, libraries=None) -> int:
    return announcements_for(user, libraries).filter(is_read=False).count()


def dashboard_announcements(user, libraries=None, limit: int = 8):
    """``for_dashboard`` and ``unread_count`` in one query: ``(announcements, unread)``.

    Each listed row carries the number of unread ones among all (a window over the whole
    result, counted before the limit), and ``next_expiry``, when the first of them all
    expires (the dashboard keeps the panel no longer); with no rows there is nothing
    unread."""
    unread = Window(
        Sum(Case(When(is_read=False, then=Value(1)), default=Value(0)), output_field=IntegerField())
    )
    pages = list(
        announcements_for(user, libraries)
        .annotate(unread_total=unread, next_expiry=Window(Min("expire_at")))
        .order_by("-pinned", "is_read", "-first_published_at", "-pk")[:limit]
    )
    return pages, (pages[0].unread_total if pages else 0)


def is_read(user, page) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return AnnouncementRead.objects.filter(user=user, page=page).exists()


def search(
    user, *, q: str = "", category: str = "", year: int | None = None, month: int | None = None
):
    """The archive: the user's announcements filtered by words, category and month."""
    pages = announcements_for(user)
    for word in q.split()[:8]:
        pages = pages.filter(Q(title__icontains=word) | Q(body__icontains=word))
    if category:
        pages = pages.filter(category=category)
    if year and month:
        pages = pages.filter(first_published_at__year=year, first_published_at__month=month)
    return pages


def archive_months(user) -> list:
    """The months that hold announcements for ``user``, newest first (one query)."""
    return list(
        announcements_for(user)
        .annotate(month=TruncMonth("first_published_at"))
        .order_by()
        .values_list("month", flat=True)
        .distinct()
        .order_by("-month")
    )


def next_expiry(user):
    """When the first of ``user``'s announcements expires (None: none does); one query."""
    return announcements_for(user).aggregate(first=Min("expire_at"))["first"]


def publishable_libraries(user) -> QuerySet[MemberLibrary]:
    """Libraries whose staff ``user`` may address."""
    return access.libraries_for(user, PUBLISH)


def may_publish(user) -> bool:
    """Whether ``user`` may address the staff of some library. Most people hold the
    permission nowhere, which the request already knows (the navigation asks the same)."""
    return PUBLISH in access.permissions_anywhere(user) and publishable_libraries(user).exists()


def may_publish_to_everyone(user) -> bool:
    root = consortium_root()
    return access.can(user, MANAGE, root)


def preference_of(user) -> AnnouncementPreference:
    """The person's preferences, created with the defaults on first use."""
    pref, _ = AnnouncementPreference.objects.get_or_create(user=user)
    return pref


def recipients(page: AnnouncementPage):
    """Active people ``page`` is addressed to, where the plugin is on (one query)."""
    readers = [r for r in _all_roles() if VIEW in permissions_of_role(r)]
    roles = page.roles or readers
    memberships = Membership.objects.filter(role__in=[r for r in roles if r in readers])
    enabled = enabled_filter("announcements")
    if enabled is None:
        return get_user_model().objects.none()
    memberships = memberships.filter(library__in=MemberLibrary.objects.filter(enabled))
    if page.audience != AnnouncementPage.Audience.EVERYONE:
        targets = list(page.audience_libraries.all())
        if not targets:
            return get_user_model().objects.none()
        reach = Q()
        for target in targets:
            # The target and its branches, and the systems above it (not the consortium).
            reach |= Q(library__path__startswith=target.path)
            reach |= Q(library__path__in=target.ancestor_paths()[1:])
        memberships = memberships.filter(reach)
    return (
        get_user_model()
        .objects.filter(is_active=True, pk__in=memberships.values("user_id"))
        .order_by("pk")
    )


def _all_roles():
    from portal.members.roles import definitions

    return list(definitions())


def user_for_feed_token(token: str):
    pref = (
        AnnouncementPreference.objects.select_related("user")
        .filter(feed_token=token, user__is_active=True)
        .first()
    )
    return pref.user if pref else None
