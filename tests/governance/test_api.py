"""GET /api/v1/governance/...: proposals and published results for a library's own systems.

What a token reads is what its library's people see on the portal (everything past draft),
with nothing about another library, no result before the vote is decided, and never a
library beside a choice."""

from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.models import Ballot, Eligibility, Proposal
from governance.services.closing import close_proposal
from governance.services.proposals import do_extend_window, do_withdraw_proposal
from governance.services.receipts import fingerprint
from portal.api import services as api_services
from portal.members.models import LibraryPluginSwitch, MemberLibrary
from tests.api_support import api_token, bearer_get, fresh_rate_limits  # noqa: F401 - fresh_rate_limits: autouse

from .conftest import expire

URL = "/api/v1/governance/proposals/"


def token_for(world, library, scopes=("proposals:read",)):
    return api_token(world.admin, library, scopes)


def get(client, token, url=URL):
    return bearer_get(client, token, url)


def ok(response):
    assert response.status_code == 200, response.content
    return response.json()


def assert_no_library_named(world, response):
    """No member library's name or code anywhere in the answer, the token's own included:
    it is known to its holder, and another's is none of its business."""
    text = response.content.decode()
    for library in MemberLibrary.objects.all():
        assert library.name not in text, library.name
        assert f'"{library.code}"' not in text, library.code


def close(proposal):
    expire(proposal)
    return close_proposal(proposal.pk)


def test_scope_and_token_are_required(client, world):
    proposal = world.proposal()
    urls = [URL, f"{URL}{proposal.pk}", f"{URL}{proposal.pk}/result"]
    for url in urls:
        assert client.get(url).status_code == 401
        assert get(client, "cnc_nope_nope", url).status_code == 401
    library_only = token_for(world, world.libraries[0], scopes=("library:read",))
    for url in urls:
        response = get(client, library_only, url)
        assert response.status_code == 403
        assert "proposals:read" in response.json()["detail"]
    assert "proposals:read" in api_services.known_scopes()


def test_a_library_sees_what_its_members_see_and_nothing_of_the_others(client, world):
    draft = world.proposal(title="Still a draft", open_=False)
    open_ = world.proposal(title="Open vote")
    withdrawn = world.proposal(title="Withdrawn vote")
    do_withdraw_proposal(world.admin, withdrawn, "Tabled")
    world.vote(1, open_, "no")  # another library votes
    token = token_for(world, world.libraries[0])

    listed = ok(get(client, token))
    assert listed["count"] == 2
    by_title = {item["title"]: item for item in listed["items"]}
    assert set(by_title) == {"Open vote", "Withdrawn vote"}
    assert get(client, token, f"{URL}{draft.pk}").status_code == 404
    assert get(client, token, f"{URL}{draft.pk}/result").status_code == 404

    # The turnout is a number; who voted, and how, does not leave.
    item = by_title["Open vote"]
    assert (item["turnout"], item["eligible_libraries"]) == (1, 3)
    assert item["own_library"] == {"eligible": True, "weight": "1", "voted": False}
    assert item["outcome"] is None
    for response in (get(client, token), get(client, token, f"{URL}{open_.pk}")):
        assert_no_library_named(world, response)
        assert '"no"' not in response.content.decode()
    # The library that voted sees its own part, and only that.
    other = ok(get(client, token_for(world, world.libraries[1]), f"{URL}{open_.pk}"))
    assert other["own_library"] == {"eligible": True, "weight": "1", "voted": True}
    # A library outside the electorate still sees the proposal, as on the portal.
    not_eligible = world.proposal(title="Others' vote")
    Eligibility.objects.filter(proposal=not_eligible, library=world.libraries[0]).delete()
    detail = ok(get(client, token, f"{URL}{not_eligible.pk}"))
    assert detail["own_library"] == {"eligible": False, "weight": None, "voted": False}

    # Filter by state.
    assert [i["title"] for i in ok(get(client, token, URL + "?state=withdrawn"))["items"]] == [
        "Withdrawn vote"
    ]


def test_detail_gives_rules_window_and_electorate(client, world):
    MemberLibrary.objects.filter(pk=world.libraries[0].pk).update(vote_weight=Decimal("2.5"))
    proposal = world.proposal(
        title="Pick a courier",
        body="<p>Two bids.</p>",
        kind="choose_one",
        weighting="weighted",
        majority="plurality",
        quorum=Decimal("0.5"),
        options=("north", "south"),
    )
    do_extend_window(world.admin, proposal, proposal.closes_at + timedelta(days=1), "More time")
    detail = ok(get(client, token_for(world, world.libraries[0]), f"{URL}{proposal.pk}"))
    assert detail["body"] == "<p>Two bids.</p>"
    assert detail["state"] == "open" and detail["kind"] == "choose_one"
    assert detail["weighting"] == "weighted" and detail["secret"] is False
    assert detail["rules"] == {
        "majority": "plurality",
        "base": "cast",
        "abstentions": "excluded",
        "quorum": "0.5",
        "max_choices": 1,
    }
    assert detail["electorate"] == {
        "kind": "all",
        "library_type": "",
        "flag": "",
        "libraries": 3,
        "weight": "4.5",
    }
    assert detail["options"] == [
        {"key": "north", "label": "North"},
        {"key": "south", "label": "South"},
    ]
    assert [e["reason"] for e in detail["extensions"]] == ["More time"]
    assert detail["own_library"] == {"eligible": True, "weight": "2.5", "voted": False}


def test_results_are_hidden_until_published(client, world):
    MemberLibrary.objects.filter(pk=world.libraries[0].pk).update(vote_weight=Decimal("3"))
    proposal = world.proposal(weighting="weighted", quorum=Decimal("0.5"))
    world.vote(0, proposal, "yes")
    world.vote(1, proposal, "no")
    world.vote(2, proposal, "recuse")
    token = token_for(world, world.libraries[1])
    url = f"{URL}{proposal.pk}/result"

    response = get(client, token, url)
    assert response.status_code == 404
    detail = ok(get(client, token, f"{URL}{proposal.pk}"))
    assert detail["outcome"] is None and "totals" not in detail
    withdrawn = world.proposal(title="Withdrawn")
    world.vote(0, withdrawn, "yes")
    do_withdraw_proposal(world.admin, withdrawn, "Tabled")
    assert get(client, token, f"{URL}{withdrawn.pk}/result").status_code == 404

    close(proposal)
    result = ok(get(client, token, url))
    assert result["state"] == "decided" and result["outcome"] == "passed"
    assert result["winner"] == "yes" and result["tied"] == []
    assert result["turnout"] == 3
    assert (result["present"], result["eligible"], result["quorum_required"]) == ("4", "5", "2.5")
    assert result["quorum_met"] is True and result["support"] == "3"
    assert {t["key"]: (t["weight"], t["ballots"]) for t in result["totals"]} == {
        "yes": ("3", 1),
        "no": ("1", 1),
        "abstain": ("0", 0),
        "recuse": ("1", 1),
    }
    assert {t["key"]: t["label"] for t in result["totals"]}["recuse"] == "Recused"
    listed = ok(get(client, token))["items"]
    assert [i["outcome"] for i in listed if i["id"] == proposal.pk] == ["passed"]


def test_a_secret_ballot_never_puts_a_library_beside_a_choice(client, world):
    proposal = world.proposal(title="Secret", secret=True, weighting="weighted")
    receipts = {}
    for n, choice in enumerate(["yes", "no", "yes"]):
        _ballot, receipts[n] = world.vote(n, proposal, choice)
    token = token_for(world, world.libraries[0])
    # Before close: turnout and the library's own "voted", nothing else.
    detail = ok(get(client, token, f"{URL}{proposal.pk}"))
    assert detail["turnout"] == 3 and detail["own_library"]["voted"] is True
    assert get(client, token, f"{URL}{proposal.pk}/result").status_code == 404

    close(proposal)
    responses = [
        get(client, token),
        get(client, token, f"{URL}{proposal.pk}"),
        get(client, token, f"{URL}{proposal.pk}/result"),
    ]
    result = ok(responses[-1])
    assert {t["key"]: t["ballots"] for t in result["totals"]} == {
        "yes": 2,
        "no": 1,
        "abstain": 0,
        "recuse": 0,
    }
    assert set(result) == {
        "proposal",
        "state",
        "outcome",
        "winner",
        "tied",
        "closed_at",
        "turnout",
        "quorum_met",
        "present",
        "quorum_required",
        "eligible",
        "membership",
        "base",
        "required",
        "support",
        "totals",
        "rounds",
    }
    fingerprints = [fingerprint(code) for code in receipts.values()]
    for response in responses:
        assert response.status_code == 200
        assert_no_library_named(world, response)
        text = response.content.decode()
        assert not any(fp in text for fp in fingerprints)
        assert not any(code in text for code in receipts.values())
    # Nor does a ballot row of the library appear in what the endpoints read.
    assert Ballot.objects.filter(proposal=proposal).count() == 3


def test_ranked_choice_rounds_are_published(client, world):
    world.add_library()
    world.add_library()
    proposal = world.proposal(
        kind="ranked", majority="simple", options=("a", "b", "c"), title="Ranked"
    )
    # Round 1: a 2, b 1, c 2; b is eliminated and its ballot goes to a: a 3 of 5.
    for n, ranking in enumerate([["a", "c"], ["a", "b"], ["b", "a"], ["c", "b"], ["c", "a"]]):
        world.vote(n, proposal, ranking)
    close(proposal)
    result = ok(get(client, token_for(world, world.libraries[0]), f"{URL}{proposal.pk}/result"))
    assert len(result["rounds"]) >= 2
    assert result["rounds"][0]["totals"][0].keys() == {"key", "label", "weight"}
    assert result["winner"] == "a"


def test_paging_is_bounded(client, world):
    for n in range(3):
        world.proposal(title=f"Vote {n}")
    token = token_for(world, world.libraries[0])
    page = ok(get(client, token, URL + "?limit=2&offset=2"))
    assert page["count"] == 3 and len(page["items"]) == 1
    for query in ("limit=101", "limit=0", "offset=-1", f"offset={2**63}", "state=nope"):
        assert get(client, token, f"{URL}?{query}").status_code == 422, query
    assert get(client, token, f"{URL}{2**63}").status_code == 404


def test_switched_off_for_the_library_is_404(client, world):
    proposal = world.proposal()
    world.vote(0, proposal, "yes")
    close(proposal)
    token = token_for(world, world.branch)
    urls = [URL, f"{URL}{proposal.pk}", f"{URL}{proposal.pk}/result"]
    for url in urls:
        assert get(client, token, url).status_code == 200
    # Switched off at the system: its branch's token gets nothing.
    LibraryPluginSwitch.objects.create(library=world.libraries[0], plugin="governance")
    for url in urls:
        assert get(client, token, url).status_code == 404


def test_the_list_keeps_a_constant_number_of_queries(client, world):
    token = token_for(world, world.libraries[0])
    get(client, token)  # the token's last use is stamped once

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            response = get(client, token)
        assert response.status_code == 200
        return len(ctx.captured_queries), response.json()["count"]

    def add(n, committee=None):
        for i in range(n):
            proposal = world.proposal(title=f"Vote {i}", kind="choose_one", options=("x", "y"))
            for voter in range(3):
                world.vote(voter, proposal, ["x", "y"][voter % 2])
            if i % 2:
                close(proposal)

    add(1)
    few, count = queries()
    assert count == 1
    add(6)
    many, count = queries()
    assert count == 7
    assert many == few


def test_the_schema_lists_the_endpoints(client, db):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {URL, URL + "{pk}", URL + "{pk}/result"} <= set(paths)
    assert Proposal.State.DRAFT in Proposal.State.values
