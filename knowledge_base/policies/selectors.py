"""Reads shared by the policy views, the dashboard panel, reminders and reports.

Each function runs a fixed number of queries however many libraries, people or policies
there are; the tests hold them to it.
"""

from __future__ import annotations

import datetime
import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast
from django.utils import timezone

from portal import access
from portal.members.models import MemberLibrary, Membership
from portal.members.switches import enabled_plugins_by_library

from .models import (
    Acknowledgement,
    AcknowledgementCampaign,
    LocalProcedure,
    PolicyPage,
    PolicyVersion,
)

LABEL = "policies"

# The policy library's order: by category, uncategorised last on every database (SQLite
# puts nulls first), then by code.
LIBRARY_ORDER = (F("category__order").asc(nulls_last=True), "code")


# --- Who may read what ----------------------------------------------------------------


def may_read(user) -> bool:
    return access.can_anywhere(user, "policies.view_policies")


def may_manage(user) -> bool:
    # Most people hold the permission nowhere, which the request already knows (navigation
    # asks the same); only those who hold it somewhere need the plugin switches read.
    perm = "policies.manage_policies"
    return perm in access.permissions_anywhere(user) and access.can_anywhere(user, perm)


def readable_policies(user, *, include_drafts: bool = False) -> QuerySet[PolicyPage]:
    """Policies the person may read: published ones; drafts too for the office."""
    pages = PolicyPage.objects.all()
    if not (include_drafts and may_manage(user)):
        pages = pages.live()
    return pages


def visible_procedure_libraries(user) -> Q:
    """Libraries whose local procedures the person may read: theirs, above and below."""
    paths = {p for m in access.memberships_of(user) for p in m.library.ancestor_paths()}
    readable = access.libraries_for(user, "policies.view_policies")
    # The consortium's own node never holds a local procedure; its path would match all.
    paths = {p for p in paths if len(p) > MemberLibrary.steplen}
    return Q(library__in=readable.values("pk")) | Q(library__path__in=paths)


def local_procedures(user, page: PolicyPage) -> list[LocalProcedure]:
    return list(
        LocalProcedure.objects.filter(visible_procedure_libraries(user), policy=page)
        .select_related("library")
        .order_by("library__path")
    )


# --- Versions -------------------------------------------------------------------------


def current_version(page: PolicyPage) -> PolicyVersion | None:
    return PolicyVersion.objects.filter(policy=page).order_by("-number").first()


def draft_revisions(policy_ids=None) -> QuerySet:
    """Unpublished revisions of policies saved after their live version: what may be proposed.

    Revisions already published (snapshotted as a version) and older drafts that a later
    publication overtook are left out.
    """
    from django.contrib.contenttypes.models import ContentType
    from wagtail.models import Revision

    page_type = ContentType.objects.get_for_model(PolicyPage)
    published_at = PolicyPage.objects.filter(pk=Cast(OuterRef("object_id"), IntegerField())).values(
        "last_published_at"
    )[:1]
    revisions = (
        Revision.objects.filter(content_type=page_type)
        .annotate(published_at=Subquery(published_at))
        .filter(Q(published_at__isnull=True) | Q(created_at__gt=F("published_at")))
        .exclude(pk__in=PolicyVersion.objects.filter(revision__isnull=False).values("revision_id"))
        .order_by("-created_at")
    )
    if policy_ids is not None:
        revisions = revisions.filter(object_id__in=[str(pk) for pk in policy_ids])
    return revisions


def versions_of(page: PolicyPage) -> list[PolicyVersion]:
    return list(PolicyVersion.objects.filter(policy=page).order_by("-number"))


@dataclass
class DiffPart:
    kind: str  # "same", "added", "removed"
    text: str


@dataclass
class DiffLine:
    kind: str  # "same", "added", "removed", or "changed" (a clause edited in place)
    text: str
    parts: list[DiffPart] = field(default_factory=list)  # a changed clause, word by word


# Words, runs of spaces and single marks: a one-word edit shows as that word, not the clause.
_TOKENS = re.compile(r"\w+|\s+|[^\w\s]")
# A clause kept this much alike is shown as edited in place; less, as removed and re-added.
_ALIKE = 0.5


def diff_lines(old_text: str, new_text: str) -> list[DiffLine]:
    """A readable diff in reading order: unchanged, removed and added clauses, and clauses
    edited in place with the words that changed marked."""
    old, new = old_text.splitlines(), new_text.splitlines()
    lines: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            lines.extend(DiffLine("same", line) for line in old[i1:i2])
            continue
        removed, added = old[i1:i2], new[j1:j2]
        if op == "replace" and len(removed) == len(added):
            for before, after in zip(removed, added, strict=True):
                lines.extend(_edited(before, after))
            continue
        lines.extend(DiffLine("removed", line) for line in removed)
        lines.extend(DiffLine("added", line) for line in added)
    return lines


def _edited(before: str, after: str) -> list[DiffLine]:
    old, new = _TOKENS.findall(before), _TOKENS.findall(after)
    words = difflib.SequenceMatcher(
        a=[t for t in old if not t.isspace()], b=[t for t in new if not t.isspace()]
    )
    if words.ratio() < _ALIKE:
        return [DiffLine("removed", before), DiffLine("added", after)]
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    parts: list[DiffPart] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(DiffPart("same", "".join(old[i1:i2])))
            continue
        if i2 > i1:
            parts.append(DiffPart("removed", "".join(old[i1:i2])))
        if j2 > j1:
            parts.append(DiffPart("added", "".join(new[j1:j2])))
    return [DiffLine("changed", after, parts)]


def diff_versions(old: PolicyVersion, new: PolicyVersion) -> list[DiffLine]:
    old_text = f"{old.title}\n{old.text}"
    new_text = f"{new.title}\n{new.text}"
    return diff_lines(old_text, new_text)


# --- Acknowledgement campaigns --------------------------------------------------------


def _active_campaigns():
    """Campaigns not superseded by a later material version of their policy."""
    base = (
        PolicyVersion.objects.filter(policy=OuterRef("policy"))
        .order_by("-number")
        .values("material_base")[:1]
    )
    return (
        AcknowledgementCampaign.objects.annotate(base=Subquery(base))
        .filter(version__number__gte=F("base"), policy__live=True)
        .prefetch_related("libraries")
        .order_by("due_date", "pk")
    )


def active_campaigns(policy_ids=None) -> list[AcknowledgementCampaign]:
    """Campaigns not superseded by a later material version of their policy; two queries."""
    campaigns = _active_campaigns().select_related("version", "policy")
    if policy_ids is not None:
        campaigns = campaigns.filter(policy_id__in=policy_ids)
    return list(campaigns)


def active_campaigns_of(page: PolicyPage) -> list[AcknowledgementCampaign]:
    """The policy's active campaigns as its page keeps them (``kept_value``): small, with
    only their version's number; the caller sets the page it read as their policy."""
    fields = [f.attname for f in AcknowledgementCampaign._meta.concrete_fields]
    return list(
        _active_campaigns()
        .filter(policy_id=page.pk)
        .select_related("version")
        .only(*fields, "version__number")
    )


def campaign_reaches(campaign: AcknowledgementCampaign, library: MemberLibrary, role: str) -> bool:
    if role not in campaign.roles:
        return False
    targets = campaign.libraries.all()  # prefetched
    return not targets or any(library.path.startswith(t.path) for t in targets)


def acknowledged_numbers(
    user_ids, policy_ids, method: str | None = None
) -> dict[tuple[int, int], tuple[int, object]]:
    """``{(user_id, policy_id): (highest version number acknowledged, when)}``; one query.

    With ``method``, only acknowledgements made that way (``"quiz"``) count.
    """
    acks = Acknowledgement.objects.filter(user_id__in=user_ids, policy_id__in=policy_ids)
    if method:
        acks = acks.filter(method=method)
    rows = acks.values("user_id", "policy_id").annotate(
        number=Max("version__number"), at=Max("acknowledged_at")
    )
    return {(r["user_id"], r["policy_id"]): (r["number"], r["at"]) for r in rows}


@dataclass
class Outstanding:
    """A policy the person must still acknowledge."""

    policy: PolicyPage
    campaign: AcknowledgementCampaign
    # The older version they did acknowledge (a material change since): show them the diff.
    acknowledged_number: int | None = None

    @property
    def overdue(self) -> bool:
        return self.campaign.is_overdue()


def outstanding_for(user, policy_ids=None, libraries=None, campaigns=None) -> list[Outstanding]:
    """Policies waiting for this person's acknowledgement, earliest due first.

    ``libraries``: those of the person's libraries where the plugin is on, when the caller
    knows them already (the dashboard does); otherwise two queries find out.
    ``campaigns``: the active campaigns of ``policy_ids``, when the caller has them."""
    memberships = access.memberships_of(user)
    if not memberships:
        return []
    if libraries is None:
        enabled = enabled_plugins_by_library([m.library for m in memberships])
        on = {lib_id for lib_id, labels in enabled.items() if LABEL in labels}
    else:
        on = {lib.pk for lib in libraries}
    memberships = [m for m in memberships if m.library_id in on]
    if campaigns is None:
        campaigns = active_campaigns(policy_ids)
    needed: dict[int, AcknowledgementCampaign] = {}
    for campaign in campaigns:
        if any(campaign_reaches(campaign, m.library, m.role) for m in memberships):
            current = needed.get(campaign.policy_id)
            if current is None or campaign.version.number > current.version.number:
                needed[campaign.policy_id] = campaign
    if not needed:
        return []
    done = acknowledged_numbers([user.pk], list(needed))
    result = []
    for policy_id, campaign in needed.items():
        number, _at = done.get((user.pk, policy_id), (None, None))
        if number is not None and number >= campaign.version.number:
            continue
        result.append(Outstanding(campaign.policy, campaign, number))
    return sorted(result, key=lambda o: (o.campaign.due_date, o.policy.code))


# --- Reading checks (quizzes offered by another plugin through the core's signals) ------


def reading_quiz(key: str, library: MemberLibrary, user):
    """The quiz behind ``key`` for a person of ``library``, or None where no plugin enabled
    there offers it (the person then acknowledges with a click)."""
    from portal.signals import reading_quiz as signal

    if not key:
        return None
    for _receiver, answer in signal.send_robust(sender=library, key=key, user=user):
        if answer is not None and not isinstance(answer, Exception):
            return answer
    return None


# --- Reports --------------------------------------------------------------------------


@dataclass
class PersonStatus:
    membership: Membership
    acknowledged_at: datetime.datetime | None
    acknowledged_number: int | None
    by_quiz: bool = False  # the acknowledgement that counts was made by passing a quiz


@dataclass
class CampaignStatus:
    campaign: AcknowledgementCampaign
    people: list[PersonStatus] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(1 for p in self.people if p.acknowledged_at)

    @property
    def total(self) -> int:
        return len(self.people)

    @property
    def missing(self) -> list[PersonStatus]:
        return [p for p in self.people if not p.acknowledged_at]


@dataclass
class LibraryStatus:
    library: MemberLibrary
    campaigns: list[CampaignStatus] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(c.done for c in self.campaigns)

    @property
    def total(self) -> int:
        return sum(c.total for c in self.campaigns)


def acknowledgement_report(libraries, policy_ids=None) -> list[LibraryStatus]:
    """Who at each library has acknowledged each active campaign; queries do not grow."""
    libraries = list(libraries.order_by("path") if hasattr(libraries, "order_by") else libraries)
    if not libraries:
        return []
    enabled = enabled_plugins_by_library(libraries)
    libraries = [lib for lib in libraries if LABEL in enabled.get(lib.pk, ())]
    campaigns = active_campaigns(policy_ids)
    by_library: dict[int, list[Membership]] = defaultdict(list)
    library_ids = [lib.pk for lib in libraries]
    memberships = (
        Membership.objects.filter(library_id__in=library_ids, user__is_active=True)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )
    for m in memberships:
        by_library[m.library_id].append(m)
    people = Membership.objects.filter(library_id__in=library_ids).values("user_id")
    policy_ids = [c.policy_id for c in campaigns]
    done = acknowledged_numbers(people, policy_ids)
    quizzed = (
        acknowledged_numbers(people, policy_ids, method=Acknowledgement.Method.QUIZ)
        if any(c.quiz_key for c in campaigns)
        else {}
    )
    report = []
    for library in libraries:
        status = LibraryStatus(library)
        for campaign in campaigns:
            people = []
            seen = set()
            for m in by_library.get(library.pk, ()):
                if m.user_id in seen or not campaign_reaches(campaign, library, m.role):
                    continue
                seen.add(m.user_id)
                number, at = done.get((m.user_id, campaign.policy_id), (None, None))
                counts = number is not None and number >= campaign.version.number
                quiz_number = quizzed.get((m.user_id, campaign.policy_id), (None, None))[0]
                by_quiz = counts and (quiz_number or 0) >= campaign.version.number
                people.append(PersonStatus(m, at if counts else None, number, by_quiz))
            if people:
                status.campaigns.append(CampaignStatus(campaign, people))
        report.append(status)
    return report


def overdue_reviews(user=None, today=None) -> list[PolicyPage]:
    """Published policies past their review date: the owner's own, or all for the office."""
    today = today or timezone.localdate()
    pages = (
        PolicyPage.objects.live()
        .filter(next_review_date__lt=today)
        .select_related("policy_owner", "category")
        .order_by("next_review_date", "code")
    )
    if user is not None and not may_manage(user):
        pages = pages.filter(policy_owner=user)
    return list(pages)


def reviews_due_soon(days: int, today=None) -> list[PolicyPage]:
    today = today or timezone.localdate()
    return list(
        PolicyPage.objects.live()
        .filter(
            next_review_date__gte=today,
            next_review_date__lte=today + datetime.timedelta(days=days),
            policy_owner__isnull=False,
        )
        .select_related("policy_owner")
    )


def search_procedures(user, query: str) -> list[LocalProcedure]:
    """Local procedures matching ``query`` among those the person may read."""
    visible = LocalProcedure.objects.filter(
        visible_procedure_libraries(user), policy__live=True
    ).values_list("pk", flat=True)
    from wagtail.search.backends import get_search_backend

    # Matches first, then the permission filter, in the database (the search backend cannot
    # filter on the visibility rules).
    ids = [p.pk for p in get_search_backend().search(query, LocalProcedure)]
    ids = list(visible.filter(pk__in=ids))
    return list(LocalProcedure.objects.filter(pk__in=ids).select_related("policy", "library"))
