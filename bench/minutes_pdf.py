"""Minutes PDF: a meeting of N agenda items, each deciding a proposal with a full weighted
roll-call of every member library, rendered as the minutes view renders it.

    DATABASE_URL=postgres://concord:concord@127.0.0.1:5432/concord \
        .venv/bin/python bench/minutes_pdf.py [--items 30] [--libraries 525] [--save m.pdf]

It creates a scratch PostgreSQL database (dropped at the end), seeds the libraries and
the closed proposals in bulk (every fifth one a secret ballot, one ballot in twenty cast
by a proxy), then times ``minutes_context`` (the queries) and ``render_pdf`` (WeasyPrint)
and prints the time and the page count. Target (docs/design.md): under 2 s for 30 items.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import time
from datetime import timedelta
from pathlib import Path

from _support import scratch_django


def seed(items: int, libraries: int):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from governance import sealing
    from governance.models import AgendaItem, Ballot, Delegation, Meeting, Proposal, SecretChoice
    from governance.services.closing import close_proposal
    from governance.services.proposals import do_open_proposal
    from portal.members.models import MemberLibrary
    from portal.members.roles import CONSORTIUM_ADMIN
    from tests import factories

    User = get_user_model()
    root = factories.consortium(name="Bench Consortium", code="bench-root")
    admin = factories.member(root, CONSORTIUM_ADMIN)
    libs = MemberLibrary.objects.bulk_create(
        [
            MemberLibrary(
                path=MemberLibrary._get_path(root.path, 2, n + 1),
                depth=2,
                numchild=0,
                name=f"Bench County Public Library {n:04d}",
                code=f"bench{n}",
                kind=MemberLibrary.Kind.LIBRARY,
                vote_weight=1 + n % 5,
            )
            for n in range(libraries)
        ]
    )
    MemberLibrary.objects.filter(pk=root.pk).update(numchild=libraries)
    people = User.objects.bulk_create(
        [User(email=f"director.{lib.code}@example.org") for lib in libs]
    )
    proxy = factories.person(email="proxy@example.org")
    today = timezone.localdate()
    delegations = Delegation.objects.bulk_create(
        [
            Delegation(
                library=lib,
                person=proxy,
                kind="proxy",
                starts_on=today,
                ends_on=today + timedelta(days=7),
                named_by=person,
            )
            for n, (lib, person) in enumerate(zip(libs, people, strict=True))
            if n % 20 == 0
        ]
    )
    by_library = {d.library_id: d for d in delegations}
    meeting = Meeting.objects.create(
        title="Annual meeting of the membership", starts_at=timezone.now()
    )
    now = timezone.now()
    choices = ["yes", "yes", "no", "abstain", "yes", "no", "recuse"]
    for item in range(items):
        proposal = do_open_proposal(
            admin,
            Proposal.objects.create(
                title=f"Resolution {item + 1}: adopt the shared loan rules, part {item + 1}",
                weighting="weighted",
                quorum="0.5",
                secret=item % 5 == 4,
                closes_at=now + timedelta(hours=1),
            ),
        )
        ballots = []
        secrets_ = []
        rule = proposal.rule()
        for n, (lib, person) in enumerate(zip(libs, people, strict=True)):
            delegation = by_library.get(lib.pk)
            choice = choices[(n + item) % len(choices)]
            print_ = f"{item:04d}{n:016d}"
            ballots.append(
                Ballot(
                    proposal=proposal,
                    library=lib,
                    weight=lib.vote_weight,
                    cast_by=proxy if delegation else person,
                    authority="proxy" if delegation else "director",
                    delegation=delegation,
                    receipt_check=f"{item:04d}{n:060d}",
                    fingerprint="" if proposal.secret else print_,
                    choice=None if proposal.secret else choice,
                    cast_at=now,
                )
            )
            if proposal.secret:
                # Sealed as a cast ballot is (one Paillier encryption each).
                sealed = sealing.seal(proposal.ballot_key, rule, lib.vote_weight, choice)
                secrets_.append(
                    SecretChoice(
                        proposal=proposal, fingerprint=print_, weight=lib.vote_weight, sealed=sealed
                    )
                )
        Ballot.objects.bulk_create(ballots, batch_size=2000)
        SecretChoice.objects.bulk_create(secrets_, batch_size=2000)
        Proposal.objects.filter(pk=proposal.pk).update(
            opens_at=now - timedelta(days=2), closes_at=now - timedelta(seconds=1)
        )
        close_proposal(proposal.pk)
        AgendaItem.objects.create(
            meeting=meeting,
            title=f"Item {item + 1}",
            notes="Moved, seconded and discussed; the chair called the vote.",
            proposal=proposal,
            sort_order=item,
        )
    return meeting


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--libraries", type=int, default=525)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--save", help="also write the PDF to this file")
    parser.add_argument("--html", help="also write the minutes HTML to this file")
    parser.add_argument(
        "--profile", help="profile the last run's render with cProfile into this file"
    )
    args = parser.parse_args()
    with scratch_django():
        from django.template.loader import render_to_string
        from pypdf import PdfReader

        from governance.models import Meeting
        from governance.selectors.minutes import minutes_context
        from portal.pdf import render_pdf

        started = time.perf_counter()
        meeting = seed(args.items, args.libraries)
        print(
            f"seeded {args.items} decided proposals x {args.libraries} ballots "
            f"in {time.perf_counter() - started:.1f} s"
        )
        # One empty render first: Python imports, template compilation and the shared font
        # libraries' start-up are paid once per process, not per PDF. Nothing is cached
        # between the timed runs: each reads the meeting again, builds the context and
        # renders with a new FontConfiguration (fonts loaded, stylesheet parsed again).
        render_pdf("governance/minutes.html", {"meeting": meeting, "entries": []})
        print("timed: minutes_context + render_pdf per run, after one untimed empty render")
        for run in range(args.runs):
            meeting = Meeting.objects.get(pk=meeting.pk)
            profiler = cProfile.Profile() if args.profile and run == args.runs - 1 else None
            started, cpu_started = time.perf_counter(), time.process_time()
            context = minutes_context(meeting)
            queried = time.perf_counter() - started
            if profiler:
                profiler.enable()
            pdf = render_pdf("governance/minutes.html", context)
            took = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            pages = len(PdfReader(io.BytesIO(pdf)).pages)
            # CPU time of this process besides the wall clock: on a shared machine the
            # wall clock also counts other processes' turns on the cores.
            print(
                f"minutes PDF run {run + 1}: {args.items} items, {took:.2f} s "
                f"(queries {queried:.2f} s, render {took - queried:.2f} s; "
                f"process CPU {cpu:.2f} s), {pages} pages, {len(pdf) // 1024} KiB "
                f"({'PASS' if took < 2 else 'FAIL'}, target under 2 s)"
            )
        if args.html:
            Path(args.html).write_text(render_to_string("governance/minutes.html", context))
        if args.save:
            Path(args.save).write_bytes(pdf)


if __name__ == "__main__":
    main()
