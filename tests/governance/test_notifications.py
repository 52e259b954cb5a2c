"""The decision email (once per proposal, one per person) and recent decisions on the dashboard."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from governance import tasks
from governance.models import Committee, CommitteeMembership, Proposal
from governance.services.closing import close_proposal
from governance.services.delegations import do_name_delegate, do_revoke_delegate
from governance.services.proposals import do_withdraw_proposal
from portal.members.models import Membership
from portal.members.roles import DIRECTOR
from portal.signals import periodic
from tests import factories

from .conftest import expire


def committee_of(world, libraries):
    committee = Committee.objects.create(name="Shared catalogue", slug="shared-catalogue")
    for library in libraries:
        CommitteeMembership.objects.create(committee=committee, library=library)
    return committee


def recipients(mailoutbox) -> list[str]:
    return sorted(address for message in mailoutbox for address in message.to)


def test_decision_mailed_once_to_each_person_after_commit(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    outsider_library, outsider_director = world.add_library(name="Not on the committee")
    committee = committee_of(world, world.libraries[:3])
    # The first director also directs the second library: still one email.
    Membership.objects.create(user=world.directors[0], library=world.libraries[1], role=DIRECTOR)
    today = timezone.localdate()
    proxy, alternate, old_proxy, revoked = (factories.person() for _ in range(4))
    do_name_delegate(
        world.directors[1], world.libraries[1], proxy, "proxy", today, today + timedelta(days=1)
    )
    do_name_delegate(world.directors[2], world.libraries[2], alternate, "alternate", today)
    do_name_delegate(
        world.directors[2],
        world.libraries[2],
        old_proxy,
        "proxy",
        today - timedelta(days=30),
        today - timedelta(days=20),
    )
    gone = do_name_delegate(world.directors[1], world.libraries[1], revoked, "alternate", today)
    do_revoke_delegate(world.directors[1], gone)
    inactive = factories.member(world.libraries[2], DIRECTOR)
    inactive.is_active = False
    inactive.save()

    proposal = world.proposal(electorate="committee", committee=committee)
    world.vote(0, proposal, "yes")
    world.vote(1, proposal, "yes", user=proxy)
    expire(proposal)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks() as callbacks:
        close_proposal(proposal.pk)
    assert mailoutbox == []  # nothing leaves before the decision is committed
    for callback in callbacks:
        callback()

    expected = sorted(
        [
            *(d.email for d in world.directors[:3]),
            world.staff.email,  # staff of an eligible library may see proposals
            world.admin.email,
            proxy.email,
            alternate.email,
        ]
    )
    assert recipients(mailoutbox) == expected
    assert all(len(message.to) == 1 for message in mailoutbox)
    assert outsider_director.email not in recipients(mailoutbox)
    message = mailoutbox[0]
    assert proposal.title in message.subject and "carried" in message.subject
    assert reverse("governance:results", args=[proposal.pk]) in message.body

    # Never twice: the task again, the periodic sweep, a re-close.
    proposal.refresh_from_db()
    assert proposal.decision_mailed_at is not None
    sent = len(mailoutbox)
    assert tasks.notify_decided(proposal.pk) == 0
    Proposal.objects.filter(pk=proposal.pk).update(closed_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        periodic.send(sender=None, now=timezone.now())
        assert close_proposal(proposal.pk, force=True) is None
    assert len(mailoutbox) == sent
    assert outsider_library.pk not in set(
        proposal.eligibilities.values_list("library_id", flat=True)
    )


def test_a_lost_decision_task_is_sent_by_the_periodic_sweep_once(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    proposal = world.proposal()
    world.vote(0, proposal, "no")
    expire(proposal)
    close_proposal(proposal.pk)  # its on-commit task never runs in this test
    mailoutbox.clear()
    periodic.send(sender=None, now=timezone.now())
    assert mailoutbox == []  # just closed: the task may still be on its way
    Proposal.objects.filter(pk=proposal.pk).update(closed_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        periodic.send(sender=None, now=timezone.now())
        periodic.send(sender=None, now=timezone.now())
    people = [*world.directors, world.staff, world.admin]
    assert recipients(mailoutbox) == sorted(p.email for p in people)
    assert "not carried" in mailoutbox[0].subject


def test_nothing_mailed_for_an_undecided_proposal(world, mailoutbox):
    proposal = world.proposal()
    assert tasks.notify_decided(proposal.pk) == 0
    do_withdraw_proposal(world.admin, proposal)
    assert tasks.notify_decided(proposal.pk) == 0
    assert tasks.notify_decided(0) == 0
    assert not [m for m in mailoutbox if "Decided" in m.subject]
    proposal.refresh_from_db()
    assert proposal.decision_mailed_at is None


def test_dashboard_shows_decisions_of_the_last_two_weeks_with_outcome(world, client):
    carried = world.proposal(title="Carried motion")
    lost = world.proposal(title="Lost motion")
    old = world.proposal(title="Old motion")
    still_open = world.proposal(title="Open motion")
    world.vote(0, carried, "yes")
    world.vote(0, lost, "no")
    world.vote(0, old, "yes")
    for proposal in (carried, lost, old):
        expire(proposal)
        close_proposal(proposal.pk)
    now = timezone.now()
    for proposal, days in ((carried, 2), (lost, 1), (old, 15)):
        Proposal.objects.filter(pk=proposal.pk).update(closed_at=now - timedelta(days=days))

    for viewer in (world.directors[1], world.staff):
        client.force_login(viewer)
        html = client.get(reverse("dashboard")).content.decode()
        section = html.split('class="recent-decisions"', 1)[1].split("</ul>", 1)[0]
        assert f'data-proposal="{carried.pk}"' in section
        assert f'data-proposal="{lost.pk}"' in section
        assert old.title not in section and still_open.title not in section
        carried_row = section.split(f'data-proposal="{carried.pk}"', 1)[1].split("</li>")[0]
        lost_row = section.split(f'data-proposal="{lost.pk}"', 1)[1].split("</li>")[0]
        assert "outcome-passed" in carried_row and "Carried" in carried_row
        assert "outcome-failed" in lost_row and "Not carried" in lost_row
        assert section.index(lost.title) < section.index(carried.title)  # newest first
