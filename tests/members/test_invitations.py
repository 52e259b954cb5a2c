import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from portal.audit.models import AuditEntry
from portal.members.exceptions import ActionRefused
from portal.members.invitations import do_invite
from portal.members.models import Membership
from portal.members.roles import STAFF

pytestmark = pytest.mark.django_db
User = get_user_model()


def invite_link(message) -> str:
    return re.search(r"http://testserver(/\S+)", message.body).group(1)


def test_invite_creates_pending_person_and_emails_them(people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = do_invite(
            people["director"], " New.Person@Example.org ", "New Person", people["branch_a"], STAFF
        )
    user = invitation.user
    assert invitation.created and invitation.sent
    assert user.email == "new.person@example.org"
    assert user.full_name == "New Person"
    assert not user.has_usable_password()
    address = EmailAddress.objects.get(user=user)
    assert address.email == "new.person@example.org" and not address.verified
    assert Membership.objects.filter(user=user, library=people["branch_a"], role=STAFF).exists()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@example.org"]
    assert people["branch_a"].name in message.subject
    assert "/accounts/password/reset/key/" in message.body
    assert {"membership.added", "person.invited"} <= set(
        AuditEntry.objects.values_list("action", flat=True)
    )


def test_invitation_link_sets_password_verifies_and_logs_in(
    client, people, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        do_invite(people["director"], "new@example.org", "New Person", people["branch_a"], STAFF)
    link = invite_link(mail.outbox[0])

    # allauth moves the key into the session and redirects to a key-less URL.
    response = client.get(link)
    assert response.status_code == 302
    form_url = response.url
    response = client.get(form_url)
    assert response.status_code == 200
    assert "token_fail" not in response.context or not response.context["token_fail"]
    response = client.post(
        form_url, {"password1": "a long new passphrase", "password2": "a long new passphrase"}
    )
    assert response.status_code == 302

    user = User.objects.get(email="new@example.org")
    assert user.check_password("a long new passphrase")
    assert EmailAddress.objects.get(user=user).verified

    client.logout()
    response = client.post(
        reverse("account_login"),
        {"login": "new@example.org", "password": "a long new passphrase"},
    )
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert client.session.get("_auth_user_id") == str(user.pk)

    # The key was for one use: the password it covered has changed.
    client.logout()
    response = client.get(link, follow=True)
    assert response.context["token_fail"]


def test_known_person_is_asked_not_appointed(people, django_capture_on_commit_callbacks):
    """Someone who already has an account gets an offer to accept (test_appointments.py)."""
    with django_capture_on_commit_callbacks(execute=True):
        invitation = do_invite(
            people["director"], "staff@example.org", "", people["system_a"], STAFF
        )
    assert not invitation.created and invitation.offered and invitation.membership is None
    assert len(mail.outbox) == 1 and "/appointments/" in mail.outbox[0].body
    assert not Membership.objects.filter(user=people["staff"], library=people["system_a"]).exists()


def test_refused_invitation_creates_nobody(people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ActionRefused):
        do_invite(people["director"], "new@example.org", "", people["system_b"], STAFF)
    assert not User.objects.filter(email="new@example.org").exists()
    assert mail.outbox == []
