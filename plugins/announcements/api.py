"""Read-only announcements for a member library's own website (/api/v1/announcements/).

A token sees what is published now for its library: addressed to every member, or to its
library, a system above it or a branch of it, and to every role (an announcement meant for
directors only is not news for a public website). Only the public-facing fields leave.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q
from ninja import Router, Schema
from ninja.pagination import paginate

from portal.api.api import require_scope
from portal.api.pagination import BoundedPage, expand_rich_texts

from .models import AnnouncementPage
from .selectors import Targets, live

SCOPE = "announcements:read"

router = Router(tags=["announcements"])


class AnnouncementOut(Schema):
    id: int
    title: str
    body: str  # HTML
    category: str
    priority: str
    published_at: datetime | None
    event_start: datetime | None
    event_end: datetime | None
    event_location: str


def published_for_library(library):
    """Live announcements whose audience takes in ``library`` (one query, newest first)."""
    if library.is_consortium:
        reach = Q(memberlibrary__path=library.path)
    else:
        # The library itself, the systems above it (not the consortium: that is "everyone")
        # and its own branches, as for the library's staff.
        reach = Q(memberlibrary__path__in=library.ancestor_paths()[1:]) | Q(
            memberlibrary__path__startswith=library.path
        )
    targeted = Exists(Targets.objects.filter(announcementpage_id=OuterRef("pk")).filter(reach))
    return (
        live()
        .filter(Q(audience=AnnouncementPage.Audience.EVERYONE) | Q(targeted))
        .filter(audience_roles="")
        .only(
            "id",
            "title",
            "body",
            "category",
            "priority",
            "first_published_at",
            "event_start",
            "event_end",
            "event_location",
        )
        .order_by("-first_published_at", "-pk")
    )


class _Page(BoundedPage):
    def page_items(self, request, pages):
        bodies = expand_rich_texts([p.body for p in pages])
        return [
            AnnouncementOut(
                id=p.pk,
                title=p.title,
                body=body,
                category=p.category,
                priority=p.priority,
                published_at=p.first_published_at,
                event_start=p.event_start,
                event_end=p.event_end,
                event_location=p.event_location,
            )
            for p, body in zip(pages, bodies, strict=True)
        ]


@router.get(
    "/",
    response=list[AnnouncementOut],
    summary="Announcements published now for the token's library",
)
@paginate(_Page)
def published(request):
    token = require_scope(request, SCOPE, plugin="announcements")
    return published_for_library(token.library)
