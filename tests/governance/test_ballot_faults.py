"""A ballot cast while the database restarts: recorded with its receipt, or refused with a
message, never a server error and never a ballot recorded without its receipt shown."""

import pytest
from django.contrib.messages import get_messages
from django.db import OperationalError, connection
from django.urls import reverse

from governance.models import Ballot
from governance.services import ballots
from governance.services.ballots import cast_ballot
from governance.services.receipts import receipt_check

pytestmark = pytest.mark.django_db(transaction=True)


def url(name, *args):
    return reverse(f"governance:{name}", args=args)


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("breaks PostgreSQL connections")


def test_a_ballot_cut_off_by_the_database_is_refused_with_a_message(world, client, monkeypatch):
    proposal = world.proposal()
    client.force_login(world.directors[0])
    real = ballots.do_cast_ballot

    def cut_off(plan, code=None):
        cast = real(plan, code)  # written in the transaction, which the restart takes away
        with pytest.raises(OperationalError), connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return cast

    monkeypatch.setattr(ballots, "do_cast_ballot", cut_off)
    response = client.post(
        url("vote", proposal.pk), {"library": world.libraries[0].pk, "choice": "yes"}
    )

    assert response.status_code == 302 and response.url == url("proposal", proposal.pk)
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == ["Your ballot was not recorded: the database did not answer. Cast it again."]
    assert not Ballot.objects.exists()

    monkeypatch.setattr(ballots, "do_cast_ballot", real)
    again = client.post(
        url("vote", proposal.pk), {"library": world.libraries[0].pk, "choice": "yes"}
    )
    assert again.status_code == 200 and b"receipt-code" in again.content
    assert Ballot.objects.get().choice == "yes"


def test_a_ballot_committed_as_the_connection_broke_still_gets_its_receipt(
    world, client, monkeypatch
):
    # The commit went through; its answer did not come back. The ballot is recorded, so
    # the voter must get its receipt, not a message telling them to vote again.
    proposal = world.proposal(secret=True)
    client.force_login(world.directors[0])
    real_commit, lost = connection.commit, []

    def commit_then_lose_the_answer():
        real_commit()
        if not lost:
            lost.append(True)
            raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(connection, "commit", commit_then_lose_the_answer)
    response = client.post(
        url("vote", proposal.pk), {"library": world.libraries[0].pk, "choice": "yes"}
    )

    assert lost and response.status_code == 200
    code = response.context["code"]
    ballot = Ballot.objects.get()
    assert ballot.receipt_check == receipt_check(code)
    # With that receipt, and only with it, the secret ballot can be changed.
    cast_ballot(world.directors[0], proposal.pk, world.libraries[0].pk, "no", receipt=code)
