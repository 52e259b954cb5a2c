"""Writes: publishing announcements, reading them, and each person's preferences."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from wagtail.models import GroupPagePermission, Site

from portal.audit.services import record_on_commit
from portal.members.models import MemberLibrary

from . import selectors
from .models import (
    AnnouncementIndexPage,
    AnnouncementPage,
    AnnouncementPreference,
    AnnouncementRead,
    RolesField,
    new_feed_token,
)


@dataclass
class Draft:
    """What a publisher fills in; ``libraries`` is ignored for an announcement to everyone."""

    title: str
    body: str
    category: str = AnnouncementPage.Category.GENERAL
    priority: str = AnnouncementPage.Priority.NORMAL
    everyone: bool = False
    libraries: list[MemberLibrary] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    go_live_at: datetime | None = None
    expire_at: datetime | None = None
    event_start: datetime | None = None
    event_end: datetime | None = None
    event_location: str = ""


def check_audience(user, *, everyone: bool, libraries) -> None:
    """The office may address everyone; a director only their own library and its branches."""
    if selectors.may_publish_to_everyone(user):
        return
    if everyone:
        raise PermissionDenied(_("Only the consortium office may address every member."))
    ids = {lib.pk for lib in libraries}
    if not ids:
        raise PermissionDenied(_("Choose the libraries whose staff should read this."))
    allowed = selectors.publishable_libraries(user).filter(pk__in=ids).count()
    if allowed != len(ids):
        raise PermissionDenied(_("You may only address your own library's staff."))


def check_page_audience(user, page: AnnouncementPage) -> None:
    """``check_audience`` for a page as the Wagtail editor built it (saved or not)."""
    check_audience(
        user,
        everyone=page.audience == AnnouncementPage.Audience.EVERYONE,
        libraries=list(page.audience_libraries.all()),
    )


def check_publish_announcement(user, draft: Draft) -> Draft:
    check_audience(user, everyone=draft.everyone, libraries=draft.libraries)
    if not draft.title.strip() or not draft.body.strip():
        raise ValidationError(_("An announcement needs a title and a body."))
    if draft.expire_at and draft.expire_at <= (draft.go_live_at or timezone.now()):
        raise ValidationError(_("The expiry date must come after publication."))
    if draft.event_start and draft.event_end and draft.event_end < draft.event_start:
        raise ValidationError(_("The event cannot end before it starts."))
    return draft


def announcement_index() -> AnnouncementIndexPage:
    """The one index page, created under the site's home page on first use.

    The office's Wagtail group gets add/edit/publish on it: what the office may publish is
    still decided by ``portal.access`` in the page hooks.
    """
    index = AnnouncementIndexPage.objects.first()
    if index is None:
        site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
        parent = site.root_page if site else AnnouncementIndexPage.get_first_root_node()
        index = AnnouncementIndexPage(title=str(_("Announcements")), slug="staff-news")
        parent.add_child(instance=index)
        index.save_revision().publish()
        from portal.members.office import office_group

        group = office_group()
        for codename in ("add_page", "change_page", "publish_page"):
            GroupPagePermission.objects.get_or_create(
                group=group,
                page=index,
                permission__codename=codename,
                defaults={"permission_id": _page_permission_id(codename)},
            )
    return index


def _page_permission_id(codename: str) -> int:
    from django.contrib.auth.models import Permission

    return Permission.objects.get(content_type__app_label="wagtailcore", codename=codename).pk


def plain_text_to_rich_text(text: str) -> str:
    """Paragraphs of the portal form's textarea as Wagtail rich text."""
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(f"<p>{escape(p).replace(chr(10), '<br/>')}</p>" for p in paragraphs)


@transaction.atomic
def do_publish_announcement(user, draft: Draft) -> AnnouncementPage:
    """Create the page under the index and publish it (or schedule it for ``go_live_at``)."""
    index = announcement_index()
    page = AnnouncementPage(
        title=draft.title.strip(),
        body=draft.body,
        category=draft.category,
        priority=draft.priority,
        audience=(
            AnnouncementPage.Audience.EVERYONE
            if draft.everyone
            else AnnouncementPage.Audience.LIBRARIES
        ),
        audience_roles=RolesField.encode(draft.roles),
        go_live_at=draft.go_live_at,
        expire_at=draft.expire_at,
        event_start=draft.event_start,
        event_end=draft.event_end,
        event_location=draft.event_location,
        owner=user,
    )
    if not draft.everyone:
        page.audience_libraries.set(draft.libraries)
    index.add_child(instance=page)
    revision = page.save_revision(user=user, log_action=True)
    # check_audience decided (through portal.access); Wagtail's page permissions are the
    # office's admin grants and do not apply to the portal form.
    revision.publish(user=user, skip_permission_checks=True)
    page.refresh_from_db()
    record_on_commit(
        "announcements.published",
        actor=user,
        library=draft.libraries[0] if len(draft.libraries) == 1 else None,
        obj=page,
        data={
            "everyone": draft.everyone,
            "libraries": [lib.pk for lib in draft.libraries],
            "priority": draft.priority,
        },
    )
    return page


def check_mark_read(user, page_id: int) -> AnnouncementPage:
    page = selectors.announcements_for(user).filter(pk=page_id).first()
    if page is None:
        raise PermissionDenied
    return page


def do_mark_read(user, page: AnnouncementPage) -> None:
    try:
        with transaction.atomic():
            AnnouncementRead.objects.get_or_create(
                user=user, page=page, defaults={"read_at": timezone.now()}
            )
    except IntegrityError:
        pass  # a second tab marked it read at the same moment


def do_update_preferences(user, *, urgent_immediately: bool, digest: str) -> None:
    pref = selectors.preference_of(user)
    pref.urgent_immediately = urgent_immediately
    pref.digest = digest
    pref.save(update_fields=["urgent_immediately", "digest"])


def do_renew_feed_token(user) -> AnnouncementPreference:
    pref = selectors.preference_of(user)
    pref.feed_token = new_feed_token()
    pref.save(update_fields=["feed_token"])
    return pref
