"""Reads shared by the pages, the panel, the PDF and the command; query counts stay flat."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import access
from portal.members.models import MemberLibrary

from . import sealing, tally
from .models import (
    VOTING_KINDS,
    Authority,
    Ballot,
    BallotEvent,
    Delegation,
    Eligibility,
    Meeting,
    Proposal,
    SecretChoice,
)
from .rules import (
    CAST,
    FINAL_STATES,
    NAME_PROXY,
    RECENT_DAYS,
    VIEW,
    VotingAuthority,
    can_manage,
)


def active_delegations(user, day=None) -> list[Delegation]:
    if not getattr(user, "is_authenticated", False):
        return []
    day = day or timezone.localdate()
    return list(
        Delegation.objects.filter(person=user, revoked_at=None, starts_on__lte=day)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=day))
        .select_related("library")
    )


def voter_libraries(user, day=None) -> dict[int, tuple[MemberLibrary, VotingAuthority]]:
    """Every voting member ``user`` may vote for today, with the authority: one query, and
    two more for those who hold the vote themselves."""
    found: dict[int, tuple[MemberLibrary, VotingAuthority]] = {}
    for delegation in active_delegations(user, day):
        if delegation.library.kind in VOTING_KINDS:
            found.setdefault(
                delegation.library_id,
                (delegation.library, VotingAuthority(delegation.kind, delegation)),
            )
    # Only those who hold the vote somewhere (known to the request already) need the
    # libraries read, with the plugin switches that come with them.
    if CAST in access.permissions_anywhere(user):
        for library in access.libraries_for(user, CAST).filter(kind__in=VOTING_KINDS):
            found[library.pk] = (library, VotingAuthority("director"))
    return found


def may_view(user) -> bool:
    return access.can_anywhere(user, VIEW) or bool(active_delegations(user)) or can_manage(user)


def _count_of(model):
    rows = (
        model.objects.filter(proposal=OuterRef("pk"))
        .order_by()
        .values("proposal")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def proposal_list(user):
    """Proposals a member may see: everything past draft; the office also sees drafts."""
    # One counting subquery each: counting both through joins multiplies ballots by
    # eligibilities (a quarter of a million rows per proposal at 500 libraries).
    proposals = Proposal.objects.select_related("committee").annotate(
        turnout=_count_of(Ballot),
        electorate_size=_count_of(Eligibility),
    )
    if not can_manage(user):
        proposals = proposals.exclude(state=Proposal.State.DRAFT)
    return proposals.order_by("-closes_at", "-pk")


@dataclass
class MyLibrary:
    library: MemberLibrary
    authority: VotingAuthority
    weight: object
    ballot: Ballot | None = None


@dataclass
class ProposalPage:
    proposal: Proposal
    options: list
    mine: list[MyLibrary]
    turnout: list[Ballot]
    electorate_size: int
    extensions: list
    comments: list
    can_manage: bool
    choices_visible: bool = False
    result: dict | None = None
    extra: dict = field(default_factory=dict)


def proposal_page(user, proposal: Proposal) -> ProposalPage:
    """Everything the proposal page shows, in a fixed number of queries."""
    options = list(proposal.options.all())
    mine_by_id = voter_libraries(user)
    eligible = {
        e.library_id: e.weight
        for e in Eligibility.objects.filter(proposal=proposal, library_id__in=list(mine_by_id))
    }
    # Turnout is public; the choice of a ballot is shown here only to its own library, and
    # never for a secret proposal (Ballot.choice is empty there).
    turnout = list(
        Ballot.objects.filter(proposal=proposal)
        .select_related("library")
        .only("library__name", "library__code", "library_id", "cast_at", "authority", "weight")
        .order_by("library__name")
    )
    my_ballots = {
        b.library_id: b
        for b in Ballot.objects.filter(proposal=proposal, library_id__in=list(eligible))
    }
    mine = [
        MyLibrary(lib, auth, eligible[pk], my_ballots.get(pk))
        for pk, (lib, auth) in sorted(mine_by_id.items(), key=lambda kv: kv[1][0].name)
        if pk in eligible
    ]
    return ProposalPage(
        proposal=proposal,
        options=options,
        mine=mine,
        turnout=turnout,
        electorate_size=Eligibility.objects.filter(proposal=proposal).count(),
        extensions=list(proposal.extensions.all()),
        comments=list(proposal.comments.select_related("author", "library")),
        can_manage=can_manage(user),
    )


def option_labels(proposal: Proposal, options=None) -> dict[str, str]:
    """Words for every key a choice can hold; pass ``options`` already loaded to save a query."""
    if options is None:
        options = proposal.options.all()
    labels = {
        tally.YES: _("Yes"),
        tally.NO: _("No"),
        tally.ABSTAIN: _("Abstain"),
        tally.RECUSE: _("Recused"),
    }
    labels.update({o.key: o.label for o in options})
    return labels


@dataclass
class Bar:
    key: str
    label: str
    value: Fraction
    count: int
    width: float
    y: int

    @property
    def text_x(self) -> int:
        return int(self.width) + 166


def chart_bars(proposal: Proposal, width: int = 400, labels: dict | None = None) -> list[Bar]:
    """Bars for the results chart: one per choice, scaled to the largest (pass the
    ``option_labels`` already read to save a query)."""
    result = proposal.result or {}
    labels = option_labels(proposal) if labels is None else labels
    totals = {k: Fraction(v) for k, v in result.get("totals", {}).items()}
    top = max(totals.values(), default=Fraction(0)) or Fraction(1)
    return [
        Bar(
            key=k,
            label=labels.get(k, k),
            value=v,
            count=result.get("counts", {}).get(k, 0),
            width=round(float(v / top) * width, 1),
            y=i * 34,
        )
        for i, (k, v) in enumerate(totals.items())
    ]


def public_ballots(proposal: Proposal) -> list[dict]:
    """After close: receipt fingerprint + choice, with the library only for open ballots."""
    if not proposal.is_final:
        return []
    if proposal.sealed:
        # Sealed ballots are never decrypted one by one: each is listed by its receipt's
        # fingerprint and its tracker, and counted in the opened sums.
        return [
            {
                "fingerprint": fp,
                "tracker": sealing.tracker(sealed),
                "choice": None,
                "weight": weight,
                "library": None,
            }
            for fp, sealed, weight in SecretChoice.objects.filter(proposal=proposal)
            .order_by("fingerprint")
            .values_list("fingerprint", "sealed", "weight")
        ]
    if proposal.secret:
        return [
            {"fingerprint": fp, "choice": choice, "weight": weight, "library": None}
            for fp, choice, weight in SecretChoice.objects.filter(proposal=proposal)
            .order_by("fingerprint")
            .values_list("fingerprint", "choice", "weight")
        ]
    return [
        {"fingerprint": b.fingerprint, "choice": b.choice, "weight": b.weight, "library": b.library}
        for b in Ballot.objects.filter(proposal=proposal)
        .select_related("library")
        .order_by("fingerprint")
    ]


def sealed_record(proposal: Proposal) -> dict:
    """Everything a member needs to recount a sealed proposal without the portal: the
    rule, the public key, every sealed ballot, and the opening of their sums with its proof
    (checked by ``sealing.check_record``; docs/ballot-secrecy.md shows how by hand)."""
    rows = SecretChoice.objects.filter(proposal=proposal).order_by("fingerprint")
    return {
        "proposal": proposal.pk,
        "title": proposal.title,
        "rule": {
            "kind": proposal.kind,
            "options": [o.key for o in proposal.options.all()],
            "majority": proposal.majority,
            "base": proposal.base,
            "abstentions": proposal.abstentions,
            "quorum": str(proposal.quorum),
            "eligible_weight": str(proposal.eligible_weight),
            "membership_weight": str(proposal.membership_weight),
        },
        "ballots": [
            {"fingerprint": fp, "tracker": sealing.tracker(sealed), "sealed": sealed}
            for fp, sealed in rows.values_list("fingerprint", "sealed")
        ],
        "opening": proposal.tally_record,
        "result": proposal.result,
    }


def register(committee: str = "", outcome: str = "", year: str = ""):
    """The resolution register: every closed proposal, newest first."""
    proposals = Proposal.objects.filter(
        state__in=[Proposal.State.DECIDED, Proposal.State.FAILED]
    ).select_related("committee")
    if committee:
        proposals = proposals.filter(committee__slug=committee)
    if outcome:
        proposals = proposals.filter(outcome=outcome)
    if year.isdigit():
        proposals = proposals.filter(closed_at__year=int(year))
    return proposals.order_by("-closed_at", "-pk")


def proposals_for_library(library: MemberLibrary):
    """Proposals as a member library reads them through the integration API: the same
    ones its people see on the portal (every proposal past draft, as ``proposal_list``),
    newest first, with the turnout, the electorate's size and the library's own part
    (its weight if eligible, whether it voted). One query, however many are read."""
    ballots = Ballot.objects.filter(proposal=OuterRef("pk"))
    eligible = Eligibility.objects.filter(proposal=OuterRef("pk"))

    def counted(rows):
        return Coalesce(
            Subquery(
                rows.order_by().values("proposal").annotate(n=Count("pk")).values("n"),
                output_field=IntegerField(),
            ),
            Value(0),
        )

    return (
        Proposal.objects.exclude(state=Proposal.State.DRAFT)
        .select_related("committee")
        .annotate(
            turnout=counted(ballots),
            electorate_size=counted(eligible),
            own_weight=Subquery(eligible.filter(library=library).values("weight")[:1]),
            own_voted=Exists(ballots.filter(library=library)),
        )
        .order_by("-closes_at", "-pk")
    )


@dataclass
class OpenVote:
    proposal: Proposal
    library: MemberLibrary
    voted: bool


def open_votes(user) -> list[OpenVote]:
    """Open proposals for each library the user votes for, deadlines first: four queries."""
    libraries = voter_libraries(user)
    if not libraries:
        return []
    now = timezone.now()
    rows = (
        Eligibility.objects.filter(
            library_id__in=list(libraries),
            proposal__state=Proposal.State.OPEN,
            proposal__closes_at__gt=now,
        )
        .select_related("proposal")
        .order_by("proposal__closes_at", "proposal_id")
    )
    rows = list(rows)
    voted = set(
        Ballot.objects.filter(
            proposal_id__in={r.proposal_id for r in rows}, library_id__in=list(libraries)
        ).values_list("proposal_id", "library_id")
    )
    return [
        OpenVote(r.proposal, libraries[r.library_id][0], (r.proposal_id, r.library_id) in voted)
        for r in rows
    ]


def recent_decisions(limit: int = 5, days: int = RECENT_DAYS) -> list[Proposal]:
    """Proposals decided in the last ``days``, newest first: one query. Decisions are
    public to members (the register), so this is the same for everyone who may look."""
    since = timezone.now() - timedelta(days=days)
    return list(
        Proposal.objects.filter(state__in=FINAL_STATES, closed_at__gte=since)
        .select_related("committee")
        .order_by("-closed_at", "-pk")[:limit]
    )


def delegations_page(user):
    """Libraries the user names proxies for, with their delegations."""
    libraries = list(access.libraries_for(user, NAME_PROXY).filter(kind__in=VOTING_KINDS))
    delegations = list(
        Delegation.objects.filter(library__in=libraries)
        .select_related("person", "library", "named_by")
        .order_by("library__name", "-starts_on")
    )
    return libraries, delegations, active_delegations(user)


def minutes_context(meeting: Meeting) -> dict:
    """The minutes: agenda, and for each proposal on it the weighted roll-call, the proxy
    chain and the quorum evidence. Secret proposals show turnout, never choices.

    The roll-call reads plain values (a 30-item meeting of 525 libraries is 15,750
    ballots); only the few ballots printed in full (multi-choice) load models. The proxy
    chain is one line per library and authority for the whole meeting, naming the items
    it was used on: repeated under each item it was a long paragraph, and WeasyPrint
    lays out a paragraph again for each of its lines (most of the render time)."""
    items = list(
        meeting.agenda_items.select_related("proposal").prefetch_related("proposal__options")
    )
    proposals = {i.proposal_id: i.proposal for i in items if i.proposal_id}
    cast: dict[tuple[int, int], tuple] = {}
    turnout: dict[int, int] = {}
    for proposal_id, library_id, weight, choice in Ballot.objects.filter(
        proposal_id__in=list(proposals)
    ).values_list("proposal_id", "library_id", "weight", "choice"):
        cast[(proposal_id, library_id)] = (weight, choice)
        turnout[proposal_id] = turnout.get(proposal_id, 0) + 1
    listed_ids = [
        pk for pk, p in proposals.items() if not p.secret and p.kind not in SINGLE_CODE_KINDS
    ]
    listed: dict[int, list[Ballot]] = {}
    for ballot in (
        Ballot.objects.filter(proposal_id__in=listed_ids)
        .select_related("library")
        .order_by("library__name")
    ):
        listed.setdefault(ballot.proposal_id, []).append(ballot)
    events = {}
    for row in (
        BallotEvent.objects.filter(proposal_id__in=list(proposals))
        .values("proposal_id")
        .annotate(n=Count("pk"))
    ):
        events[row["proposal_id"]] = row["n"]
    numbers: dict[int, list[int]] = {}
    entries = []
    for number, item in enumerate(items, start=1):
        proposal = item.proposal
        entry = {"item": item, "proposal": proposal}
        if proposal is not None:
            numbers.setdefault(proposal.pk, []).append(number)
            entry.update(
                turnout=turnout.get(proposal.pk, 0),
                events=events.get(proposal.pk, 0),
                bars=chart_bars(proposal) if proposal.is_final else [],
                # Multi-choice ballots do not fit a roll-call cell: listed with the item.
                listed=listed.get(proposal.pk, []),
            )
        entries.append(entry)
    chain, delegated = proxy_chain(list(proposals), numbers)
    for entry in entries:
        if entry["proposal"] is not None:
            entry["proxies"] = delegated.get(entry["proposal"].pk, 0)
    names = dict(
        MemberLibrary.objects.filter(pk__in={lib for _p, lib in cast}).values_list("pk", "name")
    )
    return {
        "meeting": meeting,
        "entries": entries,
        "proxy_chain": chain,
        "roll_calls": roll_calls(entries, cast, names),
    }


def proxy_chain(
    proposal_ids: list[int], numbers: dict[int, list[int]]
) -> tuple[list[dict], dict[int, int]]:
    """Ballots not cast by the director, grouped by library, person and authority: who
    cast them, under whose naming and for which dates, on which items. Never the choice.
    Also the number of such ballots per proposal."""
    authorities = dict(Authority.choices)
    groups: dict[tuple, list[int]] = {}
    delegated: dict[int, int] = {}
    for proposal_id, *key in (
        Ballot.objects.filter(proposal_id__in=proposal_ids)
        .exclude(authority=Authority.DIRECTOR)
        .values_list(
            "proposal_id",
            "library__name",
            "cast_by__email",
            "authority",
            "delegation__named_by__email",
            "delegation__starts_on",
            "delegation__ends_on",
        )
    ):
        delegated[proposal_id] = delegated.get(proposal_id, 0) + 1
        groups.setdefault(tuple(key), []).extend(numbers.get(proposal_id, []))
    chain = [
        {
            "library": library,
            "cast_by": cast_by or "",
            "authority": authorities.get(authority, authority),
            "named_by": named_by or "",
            "starts_on": starts_on,
            "ends_on": ends_on,
            "items": number_ranges(items),
        }
        for (library, cast_by, authority, named_by, starts_on, ends_on), items in sorted(
            groups.items(), key=lambda group: (group[0][0], group[0][1] or "")
        )
    ]
    return chain, delegated


def number_ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5, 7, 8]`` as ``"1–3, 5, 7–8"``."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


# A ballot's cell in the roll-call: one character (choice hidden for secret ballots).
SINGLE_CODE_KINDS = (tally.YES_NO, tally.CHOOSE_ONE)
ROLL_CALL_CODES = {tally.YES: "Y", tally.NO: "N", tally.ABSTAIN: "A", tally.RECUSE: "R"}
ROLL_CALL_COLUMNS = 30
ROLL_CALL_LINES_PER_BLOCK = 25
NAME_WIDTH = 34


def _cell(proposal: Proposal, ballot: tuple | None, option_codes: dict) -> str:
    if ballot is None:
        return "·"
    if proposal.secret:
        return "•"
    choice = ballot[1]
    if isinstance(choice, str):
        return ROLL_CALL_CODES.get(choice) or option_codes.get(choice, "?")
    return "+"  # approval or ranking: spelled out under the item


def roll_calls(entries: list[dict], cast: dict, names: dict[int, str]) -> list[dict]:
    """The meeting's weighted roll-call as fixed-width lines: one line per library, one
    column per proposal. WeasyPrint lays out a 525 x 30 table in tens of seconds; the same
    facts as monospace lines take a fraction of a second and stay aligned."""
    numbered = [(n, e["proposal"]) for n, e in enumerate(entries, start=1) if e["proposal"]]
    blocks = []
    for start in range(0, len(numbered), ROLL_CALL_COLUMNS):
        chunk = numbered[start : start + ROLL_CALL_COLUMNS]
        pks = {p.pk for _n, p in chunk}
        voters = sorted({lib for p, lib in cast if p in pks}, key=lambda lib: names[lib])
        codes = {
            p.pk: {o.key: str(i % 10) for i, o in enumerate(p.options.all(), start=1)}
            for _n, p in chunk
            if p.kind == tally.CHOOSE_ONE
        }
        header = " " * (NAME_WIDTH + 7) + "".join(f"{n:>3}" for n, _p in chunk)
        lines = []
        for library in voters:
            weights = {
                cast[(p.pk, library)][0]
                for _n, p in chunk
                if (p.pk, library) in cast and p.weighting == tally.WEIGHTED
            }
            weight = weight_text(next(iter(weights))) if len(weights) == 1 else "*"
            if not weights:
                weight = "1"
            name = names[library][:NAME_WIDTH].ljust(NAME_WIDTH)
            cells = "".join(
                f"{_cell(p, cast.get((p.pk, library)), codes.get(p.pk, {})):>3}" for _n, p in chunk
            )
            lines.append(f"{name} {weight:>6}{cells}")
        # A few short <pre> blocks, not one long one: WeasyPrint hands the whole rest of
        # a block's text to Pango for every line it breaks, which grows with the square of
        # its length (525 lines in one block: a quarter of the layout time).
        parts = [
            "\n".join(lines[i : i + ROLL_CALL_LINES_PER_BLOCK])
            for i in range(0, len(lines), ROLL_CALL_LINES_PER_BLOCK)
        ]
        blocks.append({"first": chunk[0][0], "last": chunk[-1][0], "head": header, "parts": parts})
    return blocks


def weight_text(value) -> str:
    number = Fraction(str(value))
    if number.denominator == 1:
        return str(number.numerator)
    return f"{float(number):.3f}".rstrip("0").rstrip(".")


def meetings_of(proposal):
    """The meetings that had the proposal on their agenda: where its minutes are."""
    from .models import Meeting

    return Meeting.objects.filter(agenda_items__proposal=proposal).distinct()
