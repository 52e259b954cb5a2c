"""Appointing someone who already has an account is an offer they accept: a director can
no longer make anyone (the office included) staff of their library without consent."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from portal import access
from portal.audit.models import AuditEntry
from portal.members import services
from portal.members.exceptions import ActionRefused
from portal.members.invitations import do_invite
from portal.members.models import Appointment, Membership
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF, TRAINER

from .conftest import login_ready

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(login_ready(user))
    return client


def test_a_director_cannot_make_the_office_their_staff_without_consent(
    people, django_capture_on_commit_callbacks
):
    director, office = people["director"], people["admin"]
    director_client = signed_in(director)
    with django_capture_on_commit_callbacks(execute=True):
        response = director_client.post(
            reverse("members:library_people", args=[people["system_a"].code]),
            {"email": office.email, "full_name": "", "role": STAFF},
        )
    assert response.status_code == 302
    assert not Membership.objects.filter(user=office, library=people["system_a"]).exists()
    access.forget(office)
    assert not access.can(office, "portal.view_library", people["system_a"]) or (
        access.is_consortium_admin(office)  # the office sees every library anyway
    )
    offer = Appointment.objects.get(user=office)
    assert (offer.state, offer.role, offer.offered_by) == ("pending", STAFF, director)
    page = director_client.get(reverse("members:library_people", args=[people["system_a"].code]))
    assert "Waiting for an answer" in page.content.decode()
    assert "already has an account" in page.content.decode()  # the message after the POST
    [message] = mail.outbox
    assert message.to == [office.email] and "/appointments/" in message.body
    assert AuditEntry.objects.filter(action="membership.offered").exists()
    assert not AuditEntry.objects.filter(action="membership.added").exists()


def test_the_person_accepts_and_only_then_holds_the_role(
    people, django_capture_on_commit_callbacks
):
    staff, system_a = people["staff"], people["system_a"]
    with django_capture_on_commit_callbacks(execute=True):
        do_invite(people["director"], staff.email, "", system_a, TRAINER)
    client = signed_in(staff)
    page = client.get(reverse("members:appointments"))
    assert page.status_code == 200 and system_a.name in page.content.decode()
    offer = Appointment.objects.get(user=staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("members:answer_appointment", args=[offer.pk, "accept"]))
    assert response.status_code == 302
    assert Membership.objects.filter(user=staff, library=system_a, role=TRAINER).exists()
    offer.refresh_from_db()
    assert offer.state == "accepted"
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert actions[-2:] == ["membership.added", "membership.accepted"]
    # Answered once: a second answer changes nothing.
    again = client.post(reverse("members:answer_appointment", args=[offer.pk, "decline"]))
    assert again.status_code == 404


def test_declining_leaves_everything_as_it_was(people, django_capture_on_commit_callbacks):
    staff = people["staff"]
    do_invite(people["director"], staff.email, "", people["system_a"], TRAINER)
    offer = Appointment.objects.get(user=staff)
    client = signed_in(staff)
    client.post(reverse("members:answer_appointment", args=[offer.pk, "decline"]))
    offer.refresh_from_db()
    assert offer.state == "declined"
    assert not Membership.objects.filter(user=staff, role=TRAINER).exists()


def test_nobody_else_can_answer_an_offer(people):
    do_invite(people["director"], people["staff"].email, "", people["system_a"], TRAINER)
    offer = Appointment.objects.get(user=people["staff"])
    for other in (people["director"], people["admin"]):
        response = signed_in(other).post(
            reverse("members:answer_appointment", args=[offer.pk, "accept"])
        )
        assert response.status_code == 404
        with pytest.raises(ActionRefused):
            services.do_accept_appointment(other, offer)
    assert not Membership.objects.filter(user=people["staff"], role=TRAINER).exists()


def test_an_offer_lapses_when_the_one_who_made_it_may_no_longer_appoint(people):
    director = people["director"]
    do_invite(director, people["staff"].email, "", people["system_a"], TRAINER)
    offer = Appointment.objects.get(user=people["staff"])
    Membership.objects.filter(user=director, role=DIRECTOR).delete()
    access.forget(director)
    with pytest.raises(ActionRefused, match="no longer holds"):
        services.do_accept_appointment(people["staff"], offer)
    assert not Membership.objects.filter(user=people["staff"], role=TRAINER).exists()


def test_the_same_offer_is_not_made_twice(people):
    do_invite(people["director"], people["staff"].email, "", people["system_a"], TRAINER)
    with pytest.raises(ActionRefused, match="already been asked"):
        do_invite(people["director"], people["staff"].email, "", people["system_a"], TRAINER)


def test_a_new_person_is_still_appointed_by_their_invitation(
    people, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = do_invite(people["director"], "new@example.org", "", people["system_a"], STAFF)
    assert invitation.created and not invitation.offered
    assert Membership.objects.filter(user=invitation.user, library=people["system_a"]).exists()


def test_the_offices_admin_form_asks_too(people, django_capture_on_commit_callbacks):
    office = signed_in(people["admin"])
    with django_capture_on_commit_callbacks(execute=True):
        response = office.post(
            reverse("memberships:add"),
            {
                "email": people["director"].email,
                "full_name": "",
                "library": people["root"].pk,
                "role": CONSORTIUM_ADMIN,
            },
        )
    assert response.status_code == 302
    assert not access.is_consortium_admin(people["director"])
    assert Appointment.objects.filter(user=people["director"], role=CONSORTIUM_ADMIN).exists()
