"""A meeting's minutes: its agenda, and for each proposal on it the weighted roll-call,
the proxy chain and the quorum evidence; and where a proposal's minutes are."""

from __future__ import annotations

from django.db.models import Count

from portal.members.models import MemberLibrary

from .. import tally
from ..models import Authority, Ballot, BallotEvent, Meeting, Proposal
from .results import chart_bars, weight_text


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


def meetings_of(proposal):
    """The meetings that had the proposal on their agenda: where its minutes are."""
    return Meeting.objects.filter(agenda_items__proposal=proposal).distinct()
