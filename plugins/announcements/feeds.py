"""Per-person RSS/Atom feeds and an iCalendar feed of dated events, by secret token."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from django.contrib.syndication.views import Feed
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import strip_tags
from django.utils.translation import gettext_lazy as _
from icalendar import Calendar, Event

from . import selectors

FEED_SIZE = 50
CALENDAR_PAST = timedelta(days=366)
# Where a block of the rich-text body ends, the plain text starts a new line.
_BLOCK_END = re.compile(r"</(?:p|h[1-6]|li|blockquote)>|<br\s*/?>", re.IGNORECASE)


def plain_text(body: str) -> str:
    """The rich-text body as plain text: a line per block, entities decoded."""
    lines = html.unescape(strip_tags(_BLOCK_END.sub("\n", body))).splitlines()
    return "\n".join(line.strip() for line in lines if line.strip())


class RssAnnouncementFeed(Feed):
    title = _("Announcements")
    description = _("Announcements from the consortium and your library.")

    def get_object(self, request, token):
        user = selectors.user_for_feed_token(token)
        if user is None:
            raise Http404
        return user

    def link(self, user):
        return reverse("announcements:list")

    def items(self, user):
        return list(selectors.announcements_for(user)[:FEED_SIZE])

    def item_title(self, page):
        prefix = f"[{_('Urgent')}] " if page.is_urgent else ""
        return f"{prefix}{page.title}"

    def item_description(self, page):
        return page.body

    def item_link(self, page):
        return reverse("announcements:detail", args=[page.pk])

    def item_pubdate(self, page):
        return page.first_published_at

    def item_updateddate(self, page):
        return page.last_published_at

    def item_categories(self, page):
        return [str(page.get_category_display())]


class AtomAnnouncementFeed(RssAnnouncementFeed):
    feed_type = Atom1Feed
    subtitle = RssAnnouncementFeed.description


def calendar(request, token):
    """Dated events among the person's announcements, for their calendar app."""
    user = selectors.user_for_feed_token(token)
    if user is None:
        raise Http404
    cal = Calendar()
    cal.add("prodid", "-//Concord//Announcements//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", str(_("Announcements")))
    # Every event still to come and those of the past year: a calendar app has no paging,
    # and what is older than that is in the archive on the portal.
    since = timezone.now() - CALENDAR_PAST
    pages = selectors.announcements_for(user).filter(event_start__gte=since)
    host = request.get_host()
    for page in pages:
        event = Event()
        event.add("uid", f"announcement-{page.pk}@{host}")
        event.add("summary", page.title)
        event.add("dtstart", page.event_start)
        if page.event_end:
            event.add("dtend", page.event_end)
        event.add("dtstamp", page.last_published_at or timezone.now())
        if page.event_location:
            event.add("location", page.event_location)
        event.add("description", plain_text(page.body))
        event.add(
            "url", request.build_absolute_uri(reverse("announcements:detail", args=[page.pk]))
        )
        cal.add_component(event)
    response = HttpResponse(cal.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="announcements.ics"'
    return response
