"""Closing by the periodic fan-out, one announcement, and the verify command."""

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from governance import tasks
from governance.models import Ballot, Proposal
from governance.services.closing import close_proposal
from governance.services.notifications import remind_due_proposals
from portal.audit.models import AuditEntry
from portal.signals import periodic, proposal_decided

from .conftest import expire


@pytest.fixture
def decided():
    calls = []

    def receiver(sender, proposal, outcome, subject, **kwargs):
        calls.append((proposal.pk, outcome))

    proposal_decided.connect(receiver, weak=False, dispatch_uid="test-decided")
    yield calls
    proposal_decided.disconnect(dispatch_uid="test-decided")


def test_periodic_closes_once_and_announces_once(
    world, decided, django_capture_on_commit_callbacks
):
    proposal = world.proposal()
    world.vote(0, proposal, "yes")
    periodic.send(sender=None, now=timezone.now())
    assert Proposal.objects.get(pk=proposal.pk).state == Proposal.State.OPEN
    expire(proposal)
    with django_capture_on_commit_callbacks(execute=True):
        periodic.send(sender=None, now=timezone.now())
        periodic.send(sender=None, now=timezone.now())
    proposal.refresh_from_db()
    assert proposal.state == Proposal.State.DECIDED and proposal.outcome == "passed"
    assert decided == [(proposal.pk, "passed")]
    assert AuditEntry.objects.filter(action="governance.proposal.closed").count() == 1
    assert tasks.close_proposal(proposal.pk) is False  # idempotent


def test_task_closes_due_proposals(world, decided):
    proposal = world.proposal()
    world.vote(0, proposal, "no")
    expire(proposal)
    assert tasks.close_due_proposals() == [proposal.pk]
    assert tasks.close_due_proposals() == []
    assert decided == [(proposal.pk, "failed")]


def test_verify_proposal_command(world, capsys):
    proposal = world.proposal()
    world.vote(0, proposal, "yes")
    world.vote(1, proposal, "no")
    world.vote(1, proposal, "yes")
    expire(proposal)
    close_proposal(proposal.pk)
    call_command("verify_proposal", str(proposal.pk))
    assert "verified" in capsys.readouterr().out
    Ballot.objects.filter(library=world.libraries[1]).update(choice="no")
    with pytest.raises(CommandError):
        call_command("verify_proposal", str(proposal.pk))


def test_verify_secret_proposal_and_missing_choice(world):
    proposal = world.proposal(secret=True)
    world.vote(0, proposal, "yes")
    world.vote(1, proposal, "no")
    expire(proposal)
    close_proposal(proposal.pk)
    call_command("verify_proposal", str(proposal.pk))
    from governance.models import SecretChoice

    SecretChoice.objects.filter(
        pk=SecretChoice.objects.filter(proposal=proposal).first().pk
    ).delete()
    with pytest.raises(CommandError):
        call_command("verify_proposal", str(proposal.pk))


def test_reminder_sent_once_to_libraries_that_have_not_voted(world, mailoutbox):
    from datetime import timedelta

    for lib in world.libraries:
        lib.contact_email = f"{lib.code}@example.org"
        lib.save()
    proposal = world.proposal(closes_at=timezone.now() + timedelta(hours=30))
    world.vote(0, proposal, "yes")
    mailoutbox.clear()
    assert remind_due_proposals() == 2
    assert remind_due_proposals() == 0
    assert world.libraries[0].contact_email not in {m.to[0] for m in mailoutbox}
