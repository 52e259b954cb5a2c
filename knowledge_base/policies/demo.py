"""Demo policy library for ``manage.py seed_demo`` (the plugin's ``demo_seeder``).

Eight shared policies as a consortium of Ohio libraries would write them, published
through Wagtail so each publication is snapshotted as a version by this plugin's own
receiver. Two have a second version (one minor, one material); the material one opens the
demo's acknowledgement campaign, which part of the staff have already acknowledged.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from wagtail.models import Site

from portal.dates import add_months
from portal.demo import DEMO_DOMAIN, OFFICE_EMAIL
from portal.members.models import MemberLibrary, Membership
from portal.members.roles import STAFF

from .models import PolicyCategory, PolicyPage, PolicyVersion
from .services.acknowledgement import do_acknowledge
from .services.library import setup_policy_library
from .services.procedures import check_local_procedure, do_save_local_procedure

CATEGORIES = [
    ("circulation", "Circulation"),
    ("privacy", "Privacy"),
    ("conduct", "Conduct"),
    ("collections", "Collections"),
    ("fines-and-fees", "Fines and fees"),
    ("technology", "Technology"),
]


def section(heading: str, intro: str = "") -> dict:
    return {"type": "section", "value": {"heading": heading, "intro": intro}}


def clause(text: str) -> dict:
    return {"type": "clause", "value": f"<p>{text}</p>"}


def callout(text: str, kind: str = "note") -> dict:
    return {"type": "callout", "value": {"kind": kind, "text": f"<p>{text}</p>"}}


def table(rows: list[list[str]]) -> dict:
    return {
        "type": "table",
        "value": {"data": rows, "first_row_is_table_header": True, "first_col_is_header": False},
    }


LOANS = [
    ["Material", "Loan period", "Renewals", "Limit per card"],
    ["Books and audiobooks", "21 days", "3", "75"],
    ["Magazines", "7 days", "1", "20"],
    ["DVDs and Blu-rays", "7 days", "2", "15"],
    ["Wi-Fi hotspots and laptops", "14 days", "0", "1"],
]

# (code, category, title, summary, body)
POLICIES = [
    (
        "CIRC-001",
        "circulation",
        "Library cards and borrowing privileges",
        "Who may hold a card, what it takes to get one, and where it can be used.",
        [
            section("Eligibility"),
            clause(
                "Anyone who lives, works, owns property or attends school in the service "
                "area of a member library may hold a card free of charge."
            ),
            clause(
                "Residents of Ohio outside the service area may hold a card under the "
                "reciprocal borrowing agreement between Ohio public libraries."
            ),
            section("Registration"),
            clause(
                "A new patron shows photo identification and proof of address. A card for a "
                "child under 14 is signed by a parent or guardian."
            ),
            clause("Cards are valid for three years and renewed at any member library."),
            callout(
                "People experiencing homelessness may give a shelter or agency address.",
                "example",
            ),
            section("Using the card"),
            clause(
                "A card issued by any member library is honoured at every member library and "
                "for every item in the shared catalogue."
            ),
        ],
    ),
    (
        "CIRC-002",
        "circulation",
        "Loan periods, renewals and limits",
        "How long items go out, how often they renew and how many a card may hold.",
        [
            section("Loan periods", "<p>The same rules apply across the shared catalogue.</p>"),
            table(LOANS),
            clause("An item with holds waiting cannot be renewed."),
            clause(
                "Items are renewed automatically three days before they are due when no one "
                "is waiting for them."
            ),
            section("Exceptions"),
            clause(
                "A member library may lend its own local-history and reference items for "
                "shorter periods, or not at all; such items are marked in the catalogue."
            ),
        ],
    ),
    (
        "CIRC-003",
        "circulation",
        "Holds and delivery between libraries",
        "Placing holds on shared items, the pickup window and the courier.",
        [
            section("Placing holds"),
            clause("A patron may have up to 25 holds at a time, placed online or at a desk."),
            clause(
                "Holds are filled from the nearest library with an available copy; the "
                "courier delivers to the pickup library within three working days."
            ),
            section("Pickup"),
            clause(
                "Items wait seven days at the pickup library. A patron is told by email, text "
                "or phone, as they chose at registration."
            ),
            callout("Uncollected holds are returned to their home library by courier."),
        ],
    ),
    (
        "PRIV-001",
        "privacy",
        "Patron privacy and confidentiality of library records",
        "What the consortium keeps about patrons, for how long, and who may see it.",
        [
            section(
                "Principles",
                "<p>Ohio Revised Code 149.432 makes library records and patron information "
                "confidential.</p>",
            ),
            clause(
                "Member libraries collect only the personal information needed to provide "
                "library service, and use it for nothing else."
            ),
            clause(
                "Circulation history is not kept once an item is returned and any charges "
                "are settled, unless the patron opts in to keep a reading history."
            ),
            section("Disclosure"),
            clause(
                "Records are disclosed only to the patron, to a parent or guardian of a child "
                "under 18, or under a subpoena or court order reviewed by the director."
            ),
            callout(
                "Refer every request from law enforcement to the director. Do not confirm "
                "whether a person is a patron.",
                "warning",
            ),
        ],
    ),
    (
        "COND-001",
        "conduct",
        "Code of conduct for library visitors",
        "Behaviour expected in every member library, and what staff do when it is not met.",
        [
            section("Expectations"),
            clause(
                "Everyone is welcome to use the library's spaces, collections and services "
                "in a way that respects other visitors and staff."
            ),
            clause(
                "Harassment, threats, violence, theft or damage, and use of tobacco, alcohol "
                "or illegal drugs are not permitted on library property."
            ),
            section("Responding"),
            clause(
                "Staff first ask the person to stop, explaining the rule. A person who "
                "continues may be asked to leave for the rest of the day."
            ),
            clause(
                "Longer suspensions are decided by the director, in writing, and may be "
                "appealed to the library's board."
            ),
        ],
    ),
    (
        "COLL-001",
        "collections",
        "Shared collection development",
        "How member libraries select, share and withdraw materials in the union catalogue.",
        [
            section("Selection"),
            clause(
                "Each member library selects for its own community under its board's "
                "collection policy; the consortium coordinates so that at least two copies "
                "of each title stay available across the shared catalogue."
            ),
            section("Requests for reconsideration"),
            clause(
                "A patron may ask for an item to be reconsidered using the library's "
                "written form. The item stays on the shelf while it is reviewed."
            ),
            section("Withdrawal"),
            clause(
                "A member library offers the last copy of a title in the shared catalogue to "
                "the other members before withdrawing it."
            ),
        ],
    ),
    (
        "FINE-001",
        "fines-and-fees",
        "Fines-free circulation",
        "No overdue fines on any member library's materials; lost and damaged items are billed.",
        [
            section("Overdue materials"),
            clause("Member libraries charge no fines for overdue materials."),
            clause(
                "Borrowing is blocked when an item is 30 days overdue and restored as soon "
                "as it is returned."
            ),
            section("Lost and damaged items"),
            clause(
                "An item 45 days overdue is billed at its replacement cost. The charge is "
                "removed when the item is returned in good condition."
            ),
            callout(
                "Fines already on accounts were waived when the policy took effect.",
                "note",
            ),
        ],
    ),
    (
        "TECH-001",
        "technology",
        "Public computers and internet access",
        "Use of public computers, Wi-Fi and filtering under CIPA.",
        [
            section("Access"),
            clause(
                "Public computers are available to card holders and, with a guest pass, to "
                "visitors, for sessions of 60 minutes that renew when no one is waiting."
            ),
            clause(
                "Member libraries that receive E-rate funds filter internet access as the "
                "Children's Internet Protection Act requires; adults may ask for it to be "
                "disabled for lawful purposes."
            ),
            section("Privacy"),
            clause("Browsing history and files are wiped when each session ends."),
        ],
    ),
]


def reset_demo() -> None:
    """Delete the demo's policies (their versions, campaigns and acknowledgements go too)."""
    for page in PolicyPage.objects.filter(code__in=[p[0] for p in POLICIES]):
        page.delete()


def seed(libraries: list[MemberLibrary], options: dict) -> dict[str, int]:
    reset_demo()
    rng = random.Random(options.get("seed", 0))
    User = get_user_model()
    office = User.objects.filter(email=OFFICE_EMAIL).first()
    site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
    if office is None or site is None:
        return {"policies": 0}
    library = setup_policy_library(site.root_page, title="Shared policies")
    if not library.intro:
        library.intro = (
            "<p>The policies every member library has agreed to share, with their "
            "history and each library's local procedures.</p>"
        )
        library.save_revision(user=office).publish(user=office, skip_permission_checks=True)
    categories = {}
    for order, (slug, name) in enumerate(CATEGORIES):
        categories[slug], _created = PolicyCategory.objects.get_or_create(
            slug=slug, defaults={"name": name, "order": order}
        )

    today = timezone.localdate()
    pages = {}
    for code, category, title, summary, body in POLICIES:
        page = PolicyPage(
            title=title,
            slug=code.lower(),
            code=code,
            summary=summary,
            category=categories[category],
            body=body,
            policy_owner=office,
            review_interval_months=24,
            change_summary="First shared version, adopted by the membership.",
            # Only the demo's one campaign asks staff to acknowledge (below).
            acknowledgement_days=0,
            owner=office,
        )
        library.add_child(instance=page)
        page.save_revision(user=office).publish(user=office, skip_permission_checks=True)
        pages[code] = page
    # The first versions were adopted when the consortium was formed, two years ago.
    adopted = today - timedelta(days=730)
    PolicyVersion.objects.filter(policy__in=pages.values()).update(
        effective_date=adopted,
        published_at=timezone.now() - timedelta(days=731),
    )
    PolicyPage.objects.filter(pk__in=[p.pk for p in pages.values()]).update(
        next_review_date=add_months(adopted, 24)
    )
    # One review is coming up next month, for the owner's dashboard.
    PolicyPage.objects.filter(pk=pages["COND-001"].pk).update(
        next_review_date=today + timedelta(days=20)
    )

    # A minor correction: earlier acknowledgements still count.
    loans = PolicyPage.objects.get(pk=pages["CIRC-002"].pk)
    rows = [row[:] for row in LOANS]
    rows[4] = ["Wi-Fi hotspots and laptops", "14 days", "1", "1"]
    loans.body = [
        table(rows) if block.block_type == "table" else _raw(block) for block in loans.body
    ]
    loans.change_summary = "Hotspots and laptops may be renewed once."
    loans.change_is_material = False
    loans.save_revision(user=office).publish(user=office, skip_permission_checks=True)

    # A material change: every member's staff are asked to acknowledge it within 30 days.
    privacy = PolicyPage.objects.get(pk=pages["PRIV-001"].pk)
    privacy.body = [
        *(_raw(block) for block in privacy.body),
        section("Patron data held by vendors"),
        clause(
            "Contracts with vendors of e-books, databases and notification services "
            "require the vendor to keep patron data confidential, use it only to provide "
            "the service, and delete it when the contract ends."
        ),
    ]
    privacy.change_summary = (
        "New section 3: patron data held by vendors, following the state auditor's "
        "guidance on library contracts."
    )
    privacy.change_is_material = True
    privacy.acknowledgement_days = 30
    privacy.save_revision(user=office).publish(user=office, skip_permission_checks=True)
    acknowledged = _acknowledge(privacy, libraries, rng)

    # Two members' own procedures beside the shared text.
    members = [lib for lib in libraries if lib.kind != lib.Kind.CONSORTIUM]
    for lib, code, text in zip(
        members[:2],
        ["COND-001", "TECH-001"],
        [
            "After 6 pm the person in charge of the building decides on same-day "
            "suspensions and notes them in the incident log.",
            "Guest passes are printed at the circulation desk; ask for photo ID.",
        ],
        strict=False,
    ):
        director = User.objects.filter(email=f"director.{lib.code}@{DEMO_DOMAIN}").first()
        if director is not None:
            check_local_procedure(director, pages[code], lib, text)
            do_save_local_procedure(director, pages[code], lib, text)
    return {
        "policies": len(pages),
        "policy versions": PolicyVersion.objects.filter(policy__in=pages.values()).count(),
        "policy acknowledgements": acknowledged,
    }


def _raw(block) -> dict:
    """A bound stream block as the raw dict a new body is written with."""
    return {"type": block.block_type, "value": block.block.get_prep_value(block.value)}


def _acknowledge(page: PolicyPage, libraries, rng: random.Random) -> int:
    """About half the staff, library by library, have acknowledged the new version."""
    version = PolicyVersion.objects.filter(policy=page).order_by("-number").first()
    members = [lib for lib in libraries if lib.kind != lib.Kind.CONSORTIUM]
    keen = {lib.pk: lib for lib in members if rng.random() < 0.55}
    memberships = (
        Membership.objects.filter(library_id__in=list(keen), role=STAFF)
        .select_related("user")
        .order_by("pk")
    )
    count = 0
    for membership in memberships:
        if rng.random() < 0.8:
            do_acknowledge(membership.user, version, keen[membership.library_id])
            count += 1
    return count
