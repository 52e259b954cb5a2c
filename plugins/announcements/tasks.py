"""Emails about announcements: urgent ones at once, the rest in each person's digest."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import get_connection
from django.db import transaction
from django.utils import timezone, translation

from portal import mail
from portal.background import shows_failures_on

from . import selectors
from .models import AnnouncementEmail, AnnouncementPage, AnnouncementPreference

PERIODS = {
    AnnouncementPreference.Digest.DAILY: timedelta(days=1),
    AnnouncementPreference.Digest.WEEKLY: timedelta(days=7),
}


def _absolute(url: str) -> str:
    return settings.WAGTAILADMIN_BASE_URL.rstrip("/") + url


@shows_failures_on("announcement", "page_id")
@shared_task(name="announcements.send_urgent")
def send_urgent_announcement(page_id: int) -> int:
    """Email an urgent announcement to its audience once each; returns how many were sent."""
    with transaction.atomic():
        # The lock makes a retried or duplicated task wait, then find everyone done.
        page = (
            AnnouncementPage.objects.live().select_for_update(of=("self",)).filter(pk=page_id)
        ).first()
        if page is None or not page.is_urgent:
            return 0
        done = set(AnnouncementEmail.objects.filter(page=page).values_list("user_id", flat=True))
        opted_out = set(
            AnnouncementPreference.objects.filter(urgent_immediately=False).values_list(
                "user_id", flat=True
            )
        )
        people = [
            u
            for u in selectors.recipients(page).only("pk", "email")
            if u.pk not in done and u.pk not in opted_out and u.email
        ]
        now = timezone.now()
        AnnouncementEmail.objects.bulk_create(
            [
                AnnouncementEmail(
                    user=u, page=page, kind=AnnouncementEmail.Kind.URGENT, sent_at=now
                )
                for u in people
            ],
            ignore_conflicts=True,
        )
        url = _absolute(page.url or "")
        subject = translation.gettext("Urgent: %(title)s") % {"title": page.title}
        context = {"page": page, "url": url}
        messages = [
            mail.message(u.email, "announcements/email/urgent.txt", context, subject=subject)
            for u in people
        ]
        with get_connection() as connection:
            connection.send_messages(messages)
    return len(messages)


def due_user_ids(now) -> list[int]:
    """People whose digest is due: a membership, a digest chosen, the period elapsed."""
    users = get_user_model().objects.filter(is_active=True, memberships__isnull=False)
    no_pref = users.filter(announcement_preference__isnull=True)
    due = [no_pref]
    for digest, period in PERIODS.items():
        due.append(
            users.filter(announcement_preference__digest=digest).filter(models_q_due(now - period))
        )
    ids: set[int] = set()
    for queryset in due:
        ids.update(queryset.values_list("pk", flat=True).distinct())
    return sorted(ids)


def models_q_due(cutoff):
    from django.db.models import Q

    return Q(announcement_preference__last_digest_at__isnull=True) | Q(
        announcement_preference__last_digest_at__lte=cutoff
    )


@shows_failures_on("digest", "user_id")
@shared_task(name="announcements.send_digest")
def send_digest(user_id: int) -> int:
    """Send ``user_id`` their digest if due; returns the number of announcements in it."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return 0
    now = timezone.now()
    with transaction.atomic():
        pref, _ = AnnouncementPreference.objects.get_or_create(user=user)
        pref = AnnouncementPreference.objects.select_for_update().get(pk=pref.pk)
        period = PERIODS.get(pref.digest)
        if period is None:
            return 0
        if pref.last_digest_at and pref.last_digest_at > now - period:
            return 0  # already sent this period: the periodic signal may fire again
        since = pref.last_digest_at or now - period
        pages = list(
            selectors.announcements_for(user)
            .filter(is_read=False, first_published_at__gt=since)
            .exclude(emails__user=user)
            .order_by("first_published_at")
        )
        pref.last_digest_at = now
        pref.save(update_fields=["last_digest_at"])
        if not pages or not user.email:
            return 0
        AnnouncementEmail.objects.bulk_create(
            [
                AnnouncementEmail(
                    user=user, page=p, kind=AnnouncementEmail.Kind.DIGEST, sent_at=now
                )
                for p in pages
            ],
            ignore_conflicts=True,
        )
        items = [(p, _absolute(p.url or "")) for p in pages]
        subject = translation.gettext("Announcements: %(count)d new") % {"count": len(pages)}
        mail.send(
            user.email,
            "announcements/email/digest.txt",
            {"items": items, "digest": pref.get_digest_display()},
            subject=subject,
        )
    return len(pages)
