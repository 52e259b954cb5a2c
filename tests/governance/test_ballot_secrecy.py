"""Secret ballots against whoever reads the database: the transaction-id join of issue 21,
physical row order, timestamps, the audit chain and a pg_dump taken mid-vote.

The proof that these link nothing is the same throughout: two proposals, the same
libraries voting in the same order through the same people, with the choices swapped.
Everything the database holds about the two votes is then the same, but for Paillier
ciphertexts (fresh randomness each) — so no reading of it tells the choices apart better
than chance. And no SQL statement the portal sends carries a choice, so neither the
write-ahead log nor a statement log can hold one. Then: members can recount, receipts
find and change ballots, ranked choice is not offered as secret, old data is migrated.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from governance import sealing, tally
from governance.models import (
    Ballot,
    BallotEvent,
    Proposal,
    ProposalAdminForm,
    SecretChoice,
)
from governance.services.closing import close_due_proposals, close_proposal, count
from governance.services.errors import GovernanceError, ReceiptRequired
from governance.services.proposals import do_open_proposal
from governance.services.receipts import fingerprint
from portal.audit.models import AuditEntry
from tests.governance.conftest import World, expire

postgres_only = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").split(":")[0] not in ("postgres", "postgresql"),
    reason="reads PostgreSQL's own columns (xmin, ctid) and pg_dump",
)
CHOICES = ("yes", "no", "abstain")
SWAPPED = ("no", "abstain", "yes")


def _vote_twice(world: World):
    """Two secret proposals; libraries 0, 1, 2 vote CHOICES on one, SWAPPED on the other,
    interleaved so each library's two ballots are cast back to back."""
    first = world.proposal(title="Chair, round one", secret=True)
    second = world.proposal(title="Chair, round two", secret=True)
    receipts = {}
    for n in range(3):
        receipts[first.pk, n] = world.vote(n, first, CHOICES[n])[1]
        receipts[second.pk, n] = world.vote(n, second, SWAPPED[n])[1]
    return first, second, receipts


def _strings(value):
    """Every string inside a JSON value (keys included)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def _view(proposal) -> dict:
    """What the database holds about one proposal's ballots, read with SQL as an outsider
    would, ciphertexts reduced to their count, ids and times to their order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.library_id, b.weight, b.authority, b.cast_by_id, b.choice, b.fingerprint,"
            " b.changes FROM governance_ballot b WHERE b.proposal_id = %s ORDER BY b.cast_at",
            [proposal.pk],
        )
        ballots = cursor.fetchall()
        cursor.execute(
            "SELECT e.library_id, e.action, e.choice, e.by_id, e.authority"
            " FROM governance_ballotevent e WHERE e.proposal_id = %s ORDER BY e.at, e.id",
            [proposal.pk],
        )
        events = cursor.fetchall()
        cursor.execute(
            "SELECT s.weight, s.choice, jsonb_array_length(s.sealed::jsonb)"
            " FROM governance_secretchoice s WHERE s.proposal_id = %s ORDER BY s.ctid",
            [proposal.pk],
        )
        choices = cursor.fetchall()
        cursor.execute(
            "SELECT a.action, a.library_id, a.actor_id, (a.data - 'proposal' - 'tracker')::text"
            " FROM audit_auditentry a"
            " WHERE a.action LIKE 'governance.ballot.%%' AND (a.data->>'proposal')::int = %s"
            " ORDER BY a.id",
            [proposal.pk],
        )
        audit = cursor.fetchall()
    return {"ballots": ballots, "events": events, "choices": choices, "audit": audit}


# --- the database's reader ---------------------------------------------------------------


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_transaction_id_join_of_the_issue_finds_only_ciphertexts():
    world = World()
    proposal = world.proposal(secret=True)
    for n, choice in enumerate(CHOICES):
        world.vote(n, proposal, choice)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.library_id, s.choice, s.sealed FROM governance_ballot b"
            " JOIN governance_secretchoice s ON s.xmin::text = b.xmin::text"
            " WHERE b.proposal_id = %s",
            [proposal.pk],
        )
        linked = cursor.fetchall()
    # The join still pairs each library with its row (they share a transaction) ...
    assert len(linked) == 3
    for _library, choice, sealed in linked:
        # ... but the row holds no choice: ciphertexts of the proposal's key only.
        assert choice is None
        sealed = json.loads(sealed) if isinstance(sealed, str) else sealed
        assert all(re.fullmatch(r"[0-9a-f]+", c) for c in sealed)
        assert not set(_strings(sealed)) & set(CHOICES)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_swapped_choices_leave_the_same_database_but_for_ciphertexts():
    """Transaction ids, physical row order, timestamps, ballot events and the audit chain:
    whatever a reader joins, the two votes look the same though every choice differs."""
    world = World()
    first, second, _receipts = _vote_twice(world)
    one, two = _view(first), _view(second)
    assert one == two
    assert len(one["ballots"]) == len(one["choices"]) == len(one["audit"]) == 3
    # The ciphertexts differ (fresh randomness), including for equal choices.
    sealed = list(SecretChoice.objects.values_list("sealed", flat=True))
    assert len({tuple(s) for s in sealed}) == 6
    # The audit chain is intact and names no choice.
    for entry in AuditEntry.objects.filter(action__startswith="governance.ballot"):
        assert not set(_strings(entry.data)) & set(CHOICES)
    # Yet each vote is counted as cast.
    for proposal, choices in ((first, CHOICES), (second, SWAPPED)):
        closed = close_proposal(expire(proposal).pk)
        assert closed.result["counts"] == {
            "yes": 1,
            "no": 1,
            "abstain": 1,
            "recuse": 0,
        }, choices


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_backup_taken_mid_vote_holds_no_choice_and_no_key():
    world = World()
    first, second, _receipts = _vote_twice(world)
    name = connection.settings_dict["NAME"]
    params = connection.get_connection_params()
    env = {**os.environ, "PGPASSWORD": params.get("password") or ""}
    dump = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "-h",
            params.get("host") or "127.0.0.1",
            "-p",
            str(params.get("port") or 5432),
            "-U",
            params["user"],
            name,
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = _copy_rows(dump, "public.governance_secretchoice")
    assert len(rows) == 6
    for row in rows:
        assert row["choice"] == r"\N"  # no choice: only ciphertexts
        assert all(re.fullmatch(r"[0-9a-f]+", c) for c in json.loads(row["sealed"]))
    ballots = _copy_rows(dump, "public.governance_ballot")
    assert len(ballots) == 6 and all(row["choice"] == r"\N" for row in ballots)
    events = _copy_rows(dump, "public.governance_ballotevent")
    assert len(events) == 6 and all(row["choice"] == r"\N" for row in events)
    for row in _copy_rows(dump, "public.audit_auditentry"):
        assert not {f'"{c}"' for c in CHOICES} & set(re.findall(r'"[a-z]+"', row["data"]))
    # The private keys are in the backup only sealed: neither their primes nor the key that
    # seals them appear, and the sealed form does not open without that key.
    for proposal in (first, second):
        proposal.refresh_from_db()
        private = sealing._private(proposal.ballot_key, proposal.sealed_private_key)
        assert format(private.p, "x") not in dump and format(private.q, "x") not in dump
        assert proposal.sealed_private_key in dump
        guess = override_settings(BALLOT_SEALING_KEY="a backup's reader's guess")
        with guess, pytest.raises(sealing.SealingError):
            sealing._private(proposal.ballot_key, proposal.sealed_private_key)
    assert sealing._fernet()._signing_key.hex() not in dump


def _copy_rows(dump: str, table: str) -> list[dict[str, str]]:
    """The rows of ``table`` in a plain-text pg_dump, by column name."""
    start = dump.index(f"COPY {table} (")
    columns = dump[start + len(f"COPY {table} (") : dump.index(")", start)].split(", ")
    body = dump[dump.index("\n", start) + 1 : dump.index("\n\\.\n", start)]
    return [dict(zip(columns, line.split("\t"), strict=True)) for line in body.splitlines()]


def test_no_statement_sent_to_the_database_carries_a_choice(world):
    """So neither the write-ahead log, a statement log nor a replica can hold one."""
    proposal = world.proposal(secret=True, kind="approval", options=("red", "green", "blue"))
    proposal.max_choices = 2
    Proposal.objects.filter(pk=proposal.pk).update(max_choices=2)
    picks = [["red"], ["green", "blue"], "abstain"]
    with CaptureQueriesContext(connection) as queries:
        receipts = [world.vote(n, proposal, picks[n])[1] for n in range(3)]
        world.vote(1, proposal, ["red", "blue"], receipt=receipts[1])
    sent = "\n".join(q["sql"] for q in queries.captured_queries)
    for word in ("red", "green", "blue", "abstain"):
        assert f'"{word}"' not in sent and f"'{word}'" not in sent, word
    # The capture does see choices where they are sent: an open ballot's.
    open_ = world.proposal(kind="approval", options=("red", "green", "blue"))
    with CaptureQueriesContext(connection) as queries:
        world.vote(0, open_, ["green"])
    assert '"green"' in "\n".join(q["sql"] for q in queries.captured_queries)


# --- counted, checkable, changeable ---------------------------------------------------------


def test_sealed_counts_equal_the_plain_count(world):
    heavy, _ = world.add_library(vote_weight=Decimal("2.5"))
    light, _ = world.add_library(vote_weight=Decimal("0.125"))
    cases = [
        ({"kind": "yes_no"}, (), ["yes", "no", "abstain", "recuse", "yes"]),
        ({"kind": "choose_one"}, ("a", "b", "c"), ["a", "b", "b", "abstain", "c"]),
        (
            {"kind": "approval", "max_choices": 2, "majority": "plurality"},
            ("a", "b", "c"),
            [["a", "b"], ["b"], "abstain", ["c", "a"], []],
        ),
    ]
    for fields, options, choices in cases:
        proposal = world.proposal(secret=True, weighting="weighted", options=options, **fields)
        weights = dict(proposal.eligibilities.values_list("library_id", "weight"))
        for n, choice in enumerate(choices):
            world.vote(n, proposal, choice)
        closed = close_proposal(expire(proposal).pk)
        plain = tally.tally(
            closed.rule(),
            [
                tally.Ballot(Fraction(weights[world.libraries[n].pk]), c)
                for n, c in enumerate(choices)
            ],
            eligible=closed.eligible_weight,
            membership=closed.membership_weight,
        )
        assert closed.result == plain.as_dict(), fields
        assert closed.sealed_private_key == "" and closed.tally_record["ballots"] == 5


def test_a_member_recounts_from_the_published_record_alone(world, client):
    """The record, checked here with plain integer arithmetic and not the portal's code:
    the ballots multiply to the aggregate, and the sums re-encrypt to it with the
    published randomness (Paillier with g = n + 1)."""
    proposal = world.proposal(secret=True)
    receipts = [world.vote(n, proposal, c)[1] for n, c in enumerate(("yes", "yes", "no"))]
    close_proposal(expire(proposal).pk)
    client.force_login(world.directors[0])
    response = client.get(reverse("governance:ballot_record", args=[proposal.pk]))
    assert response.status_code == 200
    record = response.json()
    opening = record["opening"]
    n = int(opening["n"], 16)
    n2 = n * n
    product = 1
    for ballot in record["ballots"]:
        product = product * int(ballot["sealed"][0], 16) % n2
    assert product == int(opening["aggregate"][0], 16)
    m, r = int(opening["plaintext"][0], 16), int(opening["randomness"][0], 16)
    assert (1 + n * m) * pow(r, n, n2) % n2 == product
    slots = {name: (m >> (64 * i)) & (2**64 - 1) for i, name in enumerate(opening["counters"])}
    assert slots["n:yes"] == 2 and slots["n:no"] == 1 and slots["w:yes"] == 2000
    assert record["result"]["totals"]["yes"] == "2"
    # Each receipt finds its ballot in the record and on the page.
    prints = {b["fingerprint"] for b in record["ballots"]}
    assert {fingerprint(code) for code in receipts} == prints
    page = client.post(reverse("governance:ballots", args=[proposal.pk]), {"receipt": receipts[0]})
    assert "counted, sealed, in the totals" in page.content.decode()


def test_receipt_shows_the_tracker_and_changes_the_ballot(world, client):
    proposal = world.proposal(secret=True)
    client.force_login(world.directors[0])
    url = reverse("governance:vote", args=[proposal.pk])
    page = client.post(url, {"library": world.libraries[0].pk, "choice": "yes"}).content.decode()
    code = re.search(r'id="receipt-code">([^<]+)<', page).group(1)
    tracker = re.search(r'id="receipt-tracker">([^<]+)<', page).group(1)
    assert SecretChoice.objects.get().fingerprint == fingerprint(code)
    assert sealing.tracker(SecretChoice.objects.get().sealed) == tracker
    with pytest.raises(ReceiptRequired):
        world.vote(0, proposal, "no")
    _ballot, code2 = world.vote(0, proposal, "no", receipt=code)
    assert SecretChoice.objects.count() == 1 and Ballot.objects.get().changes == 1
    closed = close_proposal(expire(proposal).pk)
    assert closed.result["counts"]["no"] == 1 and closed.result["counts"]["yes"] == 0
    rows = {r["fingerprint"]: r for r in services_public_ballots(closed)}
    assert list(rows) == [fingerprint(code2)]


def services_public_ballots(proposal):
    from governance.selectors.results import public_ballots

    return public_ballots(proposal)


def test_tampering_with_a_sealed_ballot_fails_verification(world):
    from django.core.management import CommandError, call_command

    proposal = world.proposal(secret=True)
    for n, choice in enumerate(CHOICES):
        world.vote(n, proposal, choice)
    close_proposal(expire(proposal).pk)
    call_command("verify_proposal", str(proposal.pk))
    row = SecretChoice.objects.filter(proposal=proposal).first()
    other = world.proposal(secret=True)
    # A ciphertext of "yes" under another key, or a valid one swapped in: both are caught.
    row.sealed = sealing.seal(other.ballot_key, other.rule(), 1, "yes")
    row.save()
    with pytest.raises(CommandError):
        call_command("verify_proposal", str(proposal.pk))


def test_a_ballot_replaced_in_the_database_before_the_close_is_caught(world):
    """Whoever can write to the database has the public key and could swap a ballot for
    a valid encryption of another choice; the audit chain (keyed outside the database)
    recorded each ballot's tracker, so the recount names it."""
    from django.core.management import CommandError, call_command

    proposal = world.proposal(secret=True)
    for n, choice in enumerate(CHOICES):
        world.vote(n, proposal, choice)
    row = SecretChoice.objects.filter(proposal=proposal).first()
    row.sealed = sealing.seal(proposal.ballot_key, proposal.rule(), 1, "yes")
    row.save()
    close_proposal(expire(proposal).pk)
    with pytest.raises(CommandError, match="differs from the one recorded"):
        call_command("verify_proposal", str(proposal.pk))
    # A swapped ballot key is named too.
    Proposal.objects.filter(pk=proposal.pk).update(ballot_key=sealing.new_key().public)
    with pytest.raises(CommandError, match="ballot key differs"):
        call_command("verify_proposal", str(proposal.pk))


def test_the_key_is_needed_to_count_and_erased_after(world):
    proposal = world.proposal(secret=True)
    world.vote(0, proposal, "yes")
    assert proposal.sealed_private_key and proposal.ballot_key
    other = world.proposal(title="Closes all the same")
    expire(other)
    wrong = override_settings(BALLOT_SEALING_KEY="not the key it was sealed with")
    with wrong, pytest.raises(GovernanceError, match="BALLOT_SEALING_KEY"):
        close_proposal(expire(proposal).pk)
    with wrong:
        assert close_due_proposals() == [other.pk]
    assert Proposal.objects.get(pk=proposal.pk).state == Proposal.State.OPEN
    closed = close_proposal(proposal.pk)
    assert closed.state == Proposal.State.DECIDED and closed.sealed_private_key == ""


# --- ranked choice is not offered as secret -------------------------------------------------


def test_ranked_choice_cannot_be_secret(world):
    class Form(ProposalAdminForm):
        class Meta:
            model = Proposal
            fields = ["title", "kind", "secret"]

    assert "Not for ranked choice" in str(Proposal._meta.get_field("secret").help_text)
    form = Form(data={"title": "Rank the options", "kind": "ranked", "secret": "on"})
    assert not form.is_valid()
    assert "ranked-choice ballot cannot be secret" in str(form.errors["secret"])
    assert Form(data={"title": "Rank the options", "kind": "ranked"}).is_valid()
    assert Form(data={"title": "Elect", "kind": "choose_one", "secret": "on"}).is_valid()
    ranked = world.proposal(
        open_=False, kind="ranked", secret=True, options=("a", "b", "c"), title="Ranked"
    )
    with pytest.raises(GovernanceError, match="ranked-choice ballot cannot be secret"):
        do_open_proposal(world.admin, ranked)


# --- secret proposals from before sealing --------------------------------------------------


def test_the_migration_seals_stored_choices(world):
    from importlib import import_module

    migration = import_module("governance.migrations.0003_sealed_secret_ballots")
    open_ = world.proposal(secret=True, title="Still open")
    done = world.proposal(secret=True, title="Closed before sealing")
    receipts, legacy = [], {}
    for n, choice in enumerate(CHOICES):
        receipts.append(world.vote(n, open_, choice)[1])
        legacy[fingerprint(receipts[-1])] = choice
        legacy[fingerprint(world.vote(n, done, SWAPPED[n])[1])] = SWAPPED[n]
    closed = close_proposal(expire(done).pk)
    published = closed.result
    # As the tables were before: choices in the clear, no key, no opening.
    for shown, choice in legacy.items():
        SecretChoice.objects.filter(fingerprint=shown).update(choice=choice, sealed=None)
    for proposal in (open_, done):
        Proposal.objects.filter(pk=proposal.pk).update(
            ballot_key="", sealed_private_key="", tally_record=None
        )
    migration.seal_secret_choices(apps, None)
    assert not SecretChoice.objects.filter(choice__isnull=False).exists()
    assert not SecretChoice.objects.filter(sealed__isnull=True).exists()
    done.refresh_from_db()
    assert done.sealed and done.sealed_private_key == "" and done.result == published
    assert count(done).as_dict() == published
    open_.refresh_from_db()
    assert open_.sealed and open_.sealed_private_key
    # Its ballots still change with their receipts, and count.
    world.vote(2, open_, "yes", receipt=receipts[2])
    closed = close_proposal(expire(open_).pk)
    assert closed.result["counts"] == {"yes": 2, "no": 1, "abstain": 0, "recuse": 0}
    assert BallotEvent.objects.filter(proposal=open_).count() == 4


def test_the_admin_form_does_not_offer_secret_for_ranked_choice(world, client):
    client.force_login(world.admin)
    url = "/admin/snippets/governance/proposal/add/"
    page = client.get(url).content.decode()
    assert "governance/proposal_form.js" in page and "Not for ranked choice" in page
    closes = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    form = {
        "title": "Rank the candidates",
        "body": '{"blocks": [], "entityMap": {}}',
        "options-TOTAL_FORMS": "0",
        "options-INITIAL_FORMS": "0",
        "options-MIN_NUM_FORMS": "0",
        "options-MAX_NUM_FORMS": "1000",
        "electorate": "all",
        "weighting": "one_each",
        "kind": "ranked",
        "max_choices": "1",
        "majority": "simple",
        "base": "cast",
        "abstentions": "excluded",
        "quorum": "0",
        "secret": "on",
        "closes_at": closes,
    }
    refused = client.post(url, form)
    assert refused.status_code == 200
    assert "ranked-choice ballot cannot be secret" in refused.content.decode()
    assert not Proposal.objects.filter(title="Rank the candidates").exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_migrating_plain_secret_choices_forward():
    """The real migration, from the tables as they were: choices in the clear."""
    from django.db.migrations.executor import MigrationExecutor

    before = [("governance", "0002_proposal_decision_mailed_at")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldProposal = old.get_model("governance", "Proposal")
    OldChoice = old.get_model("governance", "SecretChoice")
    choices = ["yes", "yes", "no", "abstain", "recuse"]
    plain = tally.tally(
        tally.Rule(), [tally.Ballot(Fraction(1), c) for c in choices], eligible=5, membership=5
    ).as_dict()
    states = {"open": None, "decided": plain, "draft": None}
    for state, result in states.items():
        proposal = OldProposal.objects.create(
            title=f"Secret, {state}",
            secret=True,
            state=state,
            eligible_weight=5,
            membership_weight=5,
            result=result,
            outcome=result["outcome"] if result else "",
        )
        if state != "draft":
            OldChoice.objects.bulk_create(
                OldChoice(proposal=proposal, fingerprint=f"{state}{n}", weight=1, choice=c)
                for n, c in enumerate(choices)
            )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert not SecretChoice.objects.filter(choice__isnull=False).exists()
    decided = Proposal.objects.get(title="Secret, decided")
    assert decided.sealed and decided.sealed_private_key == ""
    assert count(decided).as_dict() == plain
    open_ = Proposal.objects.get(title="Secret, open")
    assert open_.sealed and open_.sealed_private_key and open_.tally_record is None
    draft = Proposal.objects.get(title="Secret, draft")
    assert not draft.ballot_key  # made when it opens


def test_check_deploy_warns_without_the_ballot_sealing_key(settings):
    from governance.checks import ballot_sealing_key_check

    settings.BALLOT_SEALING_KEY = ""
    os.environ.pop("BALLOT_SEALING_KEY", None)
    assert [w.id for w in ballot_sealing_key_check(None)] == ["governance.W001"]
    settings.BALLOT_SEALING_KEY = "k" * 50
    assert ballot_sealing_key_check(None) == []


def test_a_ranked_secret_vote_from_before_sealing_still_counts(world):
    ranked = world.proposal(kind="ranked", options=("a", "b", "c"))
    Proposal.objects.filter(pk=ranked.pk).update(secret=True)  # as opened before sealing
    ranked.refresh_from_db()
    assert ranked.secret and not ranked.sealed
    rankings = [["a", "c"], ["b", "a"], ["b"]]
    for n, ranking in enumerate(rankings):
        world.vote(n, ranked, ranking)
    assert Ballot.objects.filter(proposal=ranked, choice__isnull=False).count() == 0
    closed = close_proposal(expire(ranked).pk)
    plain = tally.tally(
        closed.rule(), [tally.Ballot(Fraction(1), r) for r in rankings], eligible=3, membership=3
    )
    assert closed.result["winner"] == "b" and closed.result == plain.as_dict()
