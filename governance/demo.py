"""Demo committees, meetings and votes for ``manage.py seed_demo`` (the plugin's ``demo_seeder``).

Everything goes through this plugin's services as the office and the directors would use
them: proposals are opened by the office, every ballot is cast by a library's director
through ``cast_ballot``, and closed votes are counted by ``close_proposal``. The services
run now, so the votes that the story says were held in past weeks have their dates moved
back afterwards; counts, weights and receipts are left exactly as the services made them.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from portal.demo import DEMO_DOMAIN, OFFICE_EMAIL
from portal.members.models import MemberLibrary

from . import tally
from .models import (
    AgendaItem,
    Ballot,
    BallotEvent,
    Committee,
    CommitteeMembership,
    Delegation,
    Eligibility,
    Meeting,
    Proposal,
    ProposalOption,
    SecretChoice,
)
from .services.ballots import cast_ballot
from .services.closing import close_proposal
from .services.comments import do_comment
from .services.delegations import do_name_delegate
from .services.proposals import do_open_proposal

BOARD = "board"
CATALOGUE = "shared-catalogue"
DEMO_COMMITTEES = (BOARD, CATALOGUE)
BOARD_SEATS = 7


def reset_demo() -> None:
    """Delete every proposal, meeting and committee: ``seed_demo --reset`` calls this before
    it deletes the member libraries, which ballots and electorates protect."""
    _delete_proposals(Proposal.objects.all())
    Meeting.objects.all().delete()
    Committee.objects.all().delete()
    Delegation.objects.all().delete()


def _delete_proposals(proposals) -> None:
    ids = list(proposals.values_list("pk", flat=True))
    SecretChoice.objects.filter(proposal_id__in=ids).delete()
    BallotEvent.objects.filter(proposal_id__in=ids).delete()
    Ballot.objects.filter(proposal_id__in=ids).delete()
    Eligibility.objects.filter(proposal_id__in=ids).delete()
    Proposal.objects.filter(pk__in=ids).delete()


def seed(libraries: list[MemberLibrary], options: dict) -> dict[str, int]:
    """Two committees, two meetings, one vote open now and three decided; returns counts."""
    # A second run finds the demo's own committees (and what hangs off them) and replaces them.
    old = Committee.objects.filter(slug__in=DEMO_COMMITTEES)
    _delete_proposals(Proposal.objects.filter(committee__in=old))
    Meeting.objects.filter(committee__in=old).delete()
    old.delete()

    rng = random.Random(options.get("seed", 0))
    User = get_user_model()
    office = User.objects.filter(email=OFFICE_EMAIL).first()
    voters = [lib for lib in libraries if lib.kind in (lib.Kind.SYSTEM, lib.Kind.LIBRARY)]
    if office is None or not voters:
        return {"proposals": 0}
    emails = {f"director.{lib.code}@{DEMO_DOMAIN}": lib for lib in voters}
    directors = {
        emails[user.email].pk: user for user in User.objects.filter(email__in=list(emails))
    }
    now = timezone.now()

    # The board: the largest members by vote weight, systems first among equals.
    by_size = sorted(voters, key=lambda lib: (-lib.vote_weight, lib.kind != lib.Kind.SYSTEM))
    board_seats = by_size[:BOARD_SEATS]
    catalogue_seats = [lib for lib in voters if lib.shares_catalogue] or voters[:1]
    board = _committee(
        BOARD,
        "Board of Directors",
        "Elected directors of member libraries. The board sets the consortium's budget, "
        "puts membership-wide questions to a vote and oversees the office.",
        board_seats,
        directors,
    )
    catalogue = _committee(
        CATALOGUE,
        "Shared Catalogue Committee",
        "Every member library that shares the union catalogue. Agrees the circulation "
        "rules, loan periods and holds policy that apply across the shared catalogue.",
        catalogue_seats,
        directors,
    )

    # Votes already held, oldest first; each is opened, voted and counted by the services.
    fines = _held_vote(
        office,
        board,
        title="Go fines-free on overdue materials from 1 July",
        body="<p>The board moves that no member library charge fines for overdue "
        "materials from 1 July. Charges for lost and damaged items remain. Members keep "
        "their own collection agency arrangements until their contracts end.</p>"
        "<p>See policy FINE-001 for the text that takes effect if this passes.</p>",
        fields={
            "electorate": Proposal.Electorate.ALL,
            "weighting": Proposal.Weighting.WEIGHTED,
            "majority": Proposal.Majority.TWO_THIRDS,
            "quorum": "0.500",
        },
        voters=voters,
        directors=directors,
        turnout=0.85,
        shares={tally.YES: 0.76, tally.NO: 0.18, tally.ABSTAIN: 0.06},
        rng=rng,
        closed_days_ago=24,
    )
    courier = _held_vote(
        office,
        board,
        title="Raise the courier fee by 8% for the next fiscal year",
        body="<p>Fuel and vehicle costs have risen since the last contract. The office "
        "proposes raising each member's courier fee by 8%, or keeping the fee and reducing "
        "deliveries to small libraries from five days a week to three.</p>",
        fields={
            "electorate": Proposal.Electorate.ALL,
            "weighting": Proposal.Weighting.WEIGHTED,
            "quorum": "0.500",
        },
        voters=voters,
        directors=directors,
        turnout=0.7,
        shares={tally.YES: 0.38, tally.NO: 0.56, tally.ABSTAIN: 0.06},
        rng=rng,
        closed_days_ago=17,
    )
    candidates = board_seats[:3]
    # An election needs two candidates; a board of one (a demo of one library) confirms its
    # only member instead.
    election = {
        "fields": {"kind": Proposal.Kind.CHOOSE_ONE, "majority": Proposal.Majority.PLURALITY},
        "options": [
            (f"candidate-{n}", _candidate_label(directors.get(lib.pk), lib))
            for n, lib in enumerate(candidates, start=1)
        ],
        "shares": {"candidate-1": 0.57, "candidate-2": 0.29, "candidate-3": 0.14},
    }
    if len(candidates) < 2:
        election = {
            "fields": {"kind": Proposal.Kind.YES_NO},
            "options": [],
            "shares": {tally.YES: 1.0},
        }
    chair = _held_vote(
        office,
        board,
        title="Election of the chair of the Board",
        body="<p>Secret ballot of the board's member libraries. The chair serves two "
        "years and presides at board and membership meetings.</p>",
        fields={
            "electorate": Proposal.Electorate.COMMITTEE,
            "secret": True,
            **election["fields"],
        },
        options=election["options"],
        voters=board_seats,
        directors=directors,
        turnout=1.0,
        shares=election["shares"],
        rng=rng,
        closed_days_ago=24,
    )

    # The vote open now, in the shared catalogue committee, about half voted so far.
    closes = timezone.make_aware(
        datetime.combine(timezone.localdate() + timedelta(days=4), time(17, 0))
    )
    dvd = Proposal.objects.create(
        committee=catalogue,
        title="Lengthen the loan period for DVDs and Blu-rays to 14 days",
        body="<p>Holds on DVDs have fallen by a third in two years while renewals have "
        "doubled. The committee proposes a 14-day loan period with one renewal across the "
        "shared catalogue, replacing 7 days with two renewals.</p>",
        electorate=Proposal.Electorate.COMMITTEE,
        weighting=Proposal.Weighting.ONE_EACH,
        quorum="0.500",
        closes_at=closes,
        mover=catalogue_seats[0],
        seconder=catalogue_seats[-1] if len(catalogue_seats) > 1 else None,
        created_by=office,
    )
    dvd = do_open_proposal(office, dvd)
    Proposal.objects.filter(pk=dvd.pk).update(opens_at=now - timedelta(days=3))
    ballots = _cast(
        dvd,
        catalogue_seats,
        directors,
        turnout=0.5,
        shares={tally.YES: 0.7, tally.NO: 0.2, tally.ABSTAIN: 0.1},
        rng=rng,
    )
    for lib, text in zip(
        catalogue_seats,
        [
            "Our DVD holds queue is mostly new releases. Could new releases stay at 7 days?",
            "We support this: most of our DVD renewals are families with one trip a fortnight.",
        ],
        strict=False,
    ):
        if lib.pk in directors:
            do_comment(directors[lib.pk], dvd, text, library=lib)

    # A director names an alternate, as directors do before a holiday.
    first = voters[0]
    alternate = User.objects.filter(email=f"staff1.{first.code}@{DEMO_DOMAIN}").first()
    if alternate is not None and first.pk in directors:
        do_name_delegate(
            directors[first.pk], first, alternate, Delegation.Kind.ALTERNATE, timezone.localdate()
        )

    _meetings(board, catalogue, [fines, courier, chair], dvd)
    return {
        "committees": 2,
        "proposals": Proposal.objects.filter(committee__in=[board, catalogue]).count(),
        "ballots": Ballot.objects.filter(proposal__committee__in=[board, catalogue]).count(),
        "ballots on the open vote": ballots,
    }


def _candidate_label(director, library: MemberLibrary) -> str:
    name = director.full_name if director is not None else library.contact_name
    return f"{name} ({library.name})"[:200]


def _committee(slug, name, description, seats, directors) -> Committee:
    chair = directors.get(seats[0].pk) if seats else None
    committee = Committee.objects.create(slug=slug, name=name, description=description, chair=chair)
    since = timezone.localdate() - timedelta(days=400)
    CommitteeMembership.objects.bulk_create(
        [CommitteeMembership(committee=committee, library=lib, since=since) for lib in seats]
    )
    return committee


def _choices(count: int, shares: dict, rng: random.Random) -> list:
    """``count`` choices in the given proportions (largest share first), shuffled."""
    keys = list(shares)
    made = [key for key in keys for _ in range(int(count * shares[key]))]
    made += [keys[0]] * (count - len(made))
    rng.shuffle(made)
    return made


def _cast(proposal, libraries, directors, *, turnout, shares, rng) -> int:
    """Ballots from the directors of ``turnout`` of ``libraries``, through the service."""
    voting = [lib for lib in libraries if lib.pk in directors]
    voting = rng.sample(voting, max(1, round(len(voting) * turnout))) if voting else []
    for lib, choice in zip(voting, _choices(len(voting), shares, rng), strict=True):
        cast_ballot(directors[lib.pk], proposal.pk, lib.pk, choice)
    return len(voting)


def _held_vote(
    office,
    committee,
    *,
    title,
    body,
    fields,
    voters,
    directors,
    turnout,
    shares,
    rng,
    closed_days_ago,
    options=(),
):
    """A vote opened, cast and counted now, then dated as held ``closed_days_ago``."""
    proposal = Proposal.objects.create(
        committee=committee,
        title=title,
        body=body,
        closes_at=timezone.now() + timedelta(hours=1),
        mover=voters[0],
        seconder=voters[1] if len(voters) > 1 else None,
        created_by=office,
        **fields,
    )
    ProposalOption.objects.bulk_create(
        [
            ProposalOption(proposal=proposal, key=key, label=label, sort_order=n)
            for n, (key, label) in enumerate(options)
        ]
    )
    proposal = do_open_proposal(office, proposal)
    if options:
        keys = {key for key, _label in options}
        shares = {key: share for key, share in shares.items() if key in keys}
    _cast(proposal, voters, directors, turnout=turnout, shares=shares, rng=rng)
    proposal = close_proposal(proposal.pk, force=True)
    # Back-date the story: a fortnight's window that ended ``closed_days_ago`` at five.
    closed = timezone.make_aware(
        datetime.combine(timezone.localdate() - timedelta(days=closed_days_ago), time(17, 0))
    )
    opened = closed - timedelta(days=14)
    Proposal.objects.filter(pk=proposal.pk).update(
        opens_at=opened, closes_at=closed, closed_at=closed, created_at=opened - timedelta(days=3)
    )
    ballots = list(Ballot.objects.filter(proposal=proposal))
    for ballot in ballots:
        ballot.cast_at = opened + timedelta(seconds=rng.randint(3600, 13 * 86400))
    Ballot.objects.bulk_update(ballots, ["cast_at"], batch_size=500)
    cast_at = {ballot.library_id: ballot.cast_at for ballot in ballots}
    events = list(BallotEvent.objects.filter(proposal=proposal))
    for event in events:
        event.at = cast_at[event.library_id]
    BallotEvent.objects.bulk_update(events, ["at"], batch_size=500)
    proposal.refresh_from_db()
    return proposal


def _meetings(board, catalogue, decided, open_vote) -> None:
    fines, courier, chair = decided
    today = timezone.localdate()
    past = Meeting.objects.create(
        committee=board,
        title="Board of Directors: regular meeting",
        starts_at=timezone.make_aware(datetime.combine(today - timedelta(days=21), time(10, 0))),
        location="Consortium office, Athens, and online",
        minutes=(
            "<p>Present: directors of the board's member libraries and the executive "
            "director. The chair opened the meeting at 10:02.</p>"
            f"<p>The board noted the results of the membership votes: <b>{fines.title}</b> "
            f"({fines.get_state_display().lower()}) and <b>{courier.title}</b> "
            f"({courier.get_state_display().lower()}). The office will bring a revised "
            "courier schedule to the next meeting.</p>"
            f"<p>{chair.title}: the result of the secret ballot was read out and welcomed. "
            "The meeting closed at 11:40.</p>"
        ),
    )
    _agenda(
        past,
        [
            ("Call to order and apologies", "", None),
            ("Minutes of the previous meeting", "For approval.", None),
            ("Fines-free: result of the membership vote", "", fines),
            ("Courier fee: result of the membership vote", "", courier),
            ("Election of the chair", "Secret ballot of board members.", chair),
            ("Executive director's report", "Budget to date; state aid outlook.", None),
        ],
    )
    upcoming = Meeting.objects.create(
        committee=catalogue,
        title="Shared Catalogue Committee: quarterly meeting",
        starts_at=timezone.make_aware(datetime.combine(today + timedelta(days=6), time(13, 30))),
        location="Online (link sent with the agenda)",
    )
    _agenda(
        upcoming,
        [
            ("Welcome and apologies", "", None),
            ("Minutes of the last quarterly meeting", "For approval.", None),
            ("DVD and Blu-ray loan period", "Result of the vote closing this week.", open_vote),
            ("Holds: pickup window for shared items", "Discussion; proposal to follow.", None),
            ("Catalogue upgrade weekend", "Timeline and testing volunteers.", None),
            ("Any other business", "", None),
        ],
    )


def _agenda(meeting, items) -> None:
    AgendaItem.objects.bulk_create(
        [
            AgendaItem(meeting=meeting, sort_order=n, title=title, notes=notes, proposal=proposal)
            for n, (title, notes, proposal) in enumerate(items)
        ]
    )
