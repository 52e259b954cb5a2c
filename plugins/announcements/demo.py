"""Demo announcements for ``manage.py seed_demo`` (the plugin's ``demo_seeder``).

Seven announcements published through this plugin's services: most by the office, to
everyone or to chosen roles; one urgent notice to one library system's branches; one by a
system's director to their own staff. They are dated over the past fortnight, and some
staff have already read some of them.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from portal.demo import DEMO_DOMAIN, OFFICE_EMAIL
from portal.members.models import MemberLibrary, Membership
from portal.members.roles import DIRECTOR, STAFF

from . import selectors, services
from .models import AnnouncementPage, AnnouncementRead

Category = AnnouncementPage.Category

TITLES = {
    "welcome": "Welcome to the consortium portal",
    "upgrade": "Shared catalogue upgrade: the catalogue is offline on Sunday morning",
    "flood": "Courier suspended to our branches after flooding",
    "privacy": "New course: Patron privacy and confidentiality",
    "fees": "Membership fees for next fiscal year: invoices go out next week",
    "results": "Results of the fines-free vote",
    "staff-day": "Staff development day: branches close at 1 pm on Friday",
}


def reset_demo() -> None:
    """Delete the demo's announcements (their reads and emails go with them)."""
    for page in AnnouncementPage.objects.filter(title__in=list(TITLES.values())):
        page.delete()


def seed(libraries: list[MemberLibrary], options: dict) -> dict[str, int]:
    reset_demo()
    rng = random.Random(options.get("seed", 0))
    User = get_user_model()
    office = User.objects.filter(email=OFFICE_EMAIL).first()
    if office is None or len(libraries) < 2:
        return {"announcements": 0}
    index = services.announcement_index()
    if not index.intro:
        index.intro = "<p>News from the consortium office and member directors.</p>"
        index.save_revision(user=office).publish(user=office, skip_permission_checks=True)
    today = timezone.localdate()

    def at(days: int, hour: int, minute: int = 0) -> datetime:
        return timezone.make_aware(
            datetime.combine(today + timedelta(days=days), time(hour, minute))
        )

    system = next((lib for lib in libraries if lib.kind == lib.Kind.SYSTEM), libraries[1])
    others = [lib for lib in libraries[1:] if lib.pk != system.pk]
    # (key, draft, days ago it was published)
    drafts = [
        (
            "welcome",
            services.Draft(
                title=TITLES["welcome"],
                body=services.plain_text_to_rich_text(
                    "This is where the office and your director post news for member "
                    "staff. Your dashboard shows what is new for you, the votes your "
                    "library has open, the policies to acknowledge and your training.\n\n"
                    "Choose how you hear about announcements under Preferences: urgent "
                    "ones by email at once, the rest in a daily or weekly digest."
                ),
                category=Category.GENERAL,
                everyone=True,
            ),
            14,
        ),
        (
            "results",
            services.Draft(
                title=TITLES["results"],
                body=services.plain_text_to_rich_text(
                    "The membership vote on going fines-free has closed and the results "
                    "are published on the proposal's page.\n\nPolicy FINE-001 sets out what "
                    "changes at the desk; the office will send signage for every library."
                ),
                category=Category.GOVERNANCE,
                everyone=True,
            ),
            10,
        ),
        (
            "privacy",
            services.Draft(
                title=TITLES["privacy"],
                body=services.plain_text_to_rich_text(
                    "Every member of staff is asked to complete the new course on patron "
                    "privacy within three weeks. It takes about 25 minutes and ends with a "
                    "short quiz; you will find it under Your training on the dashboard."
                ),
                category=Category.TRAINING,
                everyone=True,
                roles=[STAFF],
            ),
            3,
        ),
        (
            "fees",
            services.Draft(
                title=TITLES["fees"],
                body=services.plain_text_to_rich_text(
                    "Invoices for next year's membership and courier fees will be emailed "
                    "to directors next Tuesday. The fee schedule approved by the board is "
                    "attached to the minutes of its last meeting."
                ),
                category=Category.GOVERNANCE,
                everyone=True,
                roles=[DIRECTOR],
            ),
            2,
        ),
        (
            "upgrade",
            services.Draft(
                title=TITLES["upgrade"],
                body=services.plain_text_to_rich_text(
                    "The shared catalogue will be upgraded on Sunday morning. The staff "
                    "client, the public catalogue and self-checkout will be unavailable "
                    "from 6 am to 11 am.\n\nUse offline circulation if your library opens "
                    "before 11; upload the offline transactions once the catalogue is back."
                ),
                category=Category.SERVICE_CHANGE,
                everyone=True,
                event_start=at(9 - today.weekday() % 7, 6),
                event_end=at(9 - today.weekday() % 7, 11),
                event_location="Shared catalogue",
            ),
            1,
        ),
        (
            "flood",
            services.Draft(
                title=TITLES["flood"],
                body=services.plain_text_to_rich_text(
                    f"High water has closed roads to the {system.name} branches. The courier "
                    "will not deliver there until further notice.\n\nHold items for these "
                    "branches at the sending library; patrons are being told by email."
                ),
                category=Category.SYSTEM_OUTAGE,
                priority=AnnouncementPage.Priority.URGENT,
                libraries=[system],
            ),
            0,
        ),
    ]
    pages = {}
    for key, draft, days_ago in drafts:
        services.check_publish_announcement(office, draft)
        pages[key] = (services.do_publish_announcement(office, draft), days_ago)
    director = User.objects.filter(email=f"director.{system.code}@{DEMO_DOMAIN}").first()
    if director is not None:
        draft = services.Draft(
            title=TITLES["staff-day"],
            body=services.plain_text_to_rich_text(
                "All branches close to the public at 1 pm on Friday for our staff "
                "development afternoon at the main library. Put the closure notice on "
                "your doors and the website by Wednesday."
            ),
            category=Category.GENERAL,
            libraries=[system],
        )
        services.check_publish_announcement(director, draft)
        pages["staff-day"] = (services.do_publish_announcement(director, draft), 4)
    now = timezone.now()
    for page, days_ago in pages.values():
        published = now - timedelta(days=days_ago, hours=rng.randint(1, 6))
        AnnouncementPage.objects.filter(pk=page.pk).update(
            first_published_at=published, last_published_at=published
        )
    reads = _reads(pages, libraries, others, rng)
    return {"announcements": len(pages), "announcement reads": reads}


def _reads(pages, libraries, others, rng: random.Random) -> int:
    """Some staff have read the older announcements; each read is checked like a click."""
    older = [page for page, days_ago in pages.values() if days_ago >= 10]
    readers = list(
        Membership.objects.filter(library__in=others[:20], role=STAFF)
        .select_related("user")
        .order_by("pk")
    )
    count = 0
    for membership in readers:
        if rng.random() < 0.5:
            continue
        visible = set(selectors.announcements_for(membership.user).values_list("pk", flat=True))
        reads = [
            AnnouncementRead(user=membership.user, page=page, read_at=timezone.now())
            for page in older
            if page.pk in visible
        ]
        AnnouncementRead.objects.bulk_create(reads, ignore_conflicts=True)
        count += len(reads)
    return count
