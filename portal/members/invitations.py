"""Inviting people: an account without a password, a membership, and an email whose link
lets the person choose a password.

The link is allauth's own password-reset-from-key URL, built with allauth's token
generator, so the key expires (``PASSWORD_RESET_TIMEOUT``) and works once: setting the
password changes the hash the token covers. Setting it also proves the person reads
mail at the address, so the address is then marked verified
(:func:`mark_invited_address_verified`, connected to allauth's ``password_reset``).
"""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse

from portal import mail
from portal.audit.services import record_on_commit

from .models import Appointment, MemberLibrary, Membership
from .roles import role_name
from .services import (
    check_add_membership,
    do_add_membership,
    do_offer_membership,
    needs_consent,
    normalise_email,
)

User = get_user_model()


@dataclass
class Invitation:
    user: object
    membership: Membership | None  # None while an offer waits for the person's answer
    created: bool  # a new account was made for the person
    sent: bool  # an invitation email goes out (after commit)
    appointment: Appointment | None = None  # the offer made to someone already here

    @property
    def offered(self) -> bool:
        return self.appointment is not None


def invitation_url(user) -> str:
    """An absolute link that lets ``user`` set a password (allauth's reset-from-key view)."""
    path = reverse(
        "account_reset_password_from_key",
        kwargs={
            "uidb36": user_pk_to_url_str(user),
            "key": default_token_generator.make_token(user),
        },
    )
    return settings.WAGTAILADMIN_BASE_URL.rstrip("/") + path


def send_invitation(user, library: MemberLibrary, role: str, invited_by=None) -> None:
    """Send the invitation email now (callers schedule it on commit)."""
    context = {
        "user": user,
        "library": library,
        "role": role_name(role),
        "invited_by": invited_by,
        "consortium_name": settings.WAGTAIL_SITE_NAME,
        "invitation_url": invitation_url(user),
        "login_url": settings.WAGTAILADMIN_BASE_URL.rstrip("/") + reverse("account_login"),
    }
    mail.send(
        user.email,
        "members/email/invitation_message.txt",
        context,
        subject_template="members/email/invitation_subject.txt",
        reply_to=library.reply_to,
    )


def do_invite(actor, email: str, full_name: str, library: MemberLibrary, role: str) -> Invitation:
    """Appoint a person by email, creating their account if it is new, and invite them.

    New people (and people who never set a password nor hold a role) are appointed and get
    the invitation email once the transaction commits: choosing a password accepts it.
    People who already use the portal are asked: the role is theirs once they accept it
    (``members.services.do_offer_membership``).
    Refusals raise :class:`~portal.members.exceptions.ActionRefused`.
    """
    email = normalise_email(email)
    with transaction.atomic():
        found = check_add_membership(actor, email, library, role)
        if needs_consent(found):
            appointment = do_offer_membership(actor, found, library, role)
            return Invitation(
                user=found, membership=None, created=False, sent=True, appointment=appointment
            )
        created = isinstance(found, str)
        if created:
            user = User.objects.create_user(
                email=email, password=None, full_name=(full_name or "").strip()
            )
        else:
            user = found
            if full_name and not user.full_name:
                user.full_name = full_name.strip()
                user.save(update_fields=["full_name"])
        EmailAddress.objects.get_or_create(
            user=user, email__iexact=email, defaults={"email": email, "primary": True}
        )
        membership = do_add_membership(actor, user, library, role)
        sent = created or not user.has_usable_password()
        if sent:
            user_pk, library_pk, actor_pk = user.pk, library.pk, getattr(actor, "pk", None)
            transaction.on_commit(lambda: _send_after_commit(user_pk, library_pk, role, actor_pk))
            record_on_commit(
                "person.invited",
                actor=actor,
                library=library,
                obj=user,
                data={"email": email, "role": role},
            )
    return Invitation(user=user, membership=membership, created=created, sent=sent)


def _send_after_commit(user_pk, library_pk, role, actor_pk) -> None:
    user = User.objects.get(pk=user_pk)
    actor = User.objects.filter(pk=actor_pk).first() if actor_pk else None
    send_invitation(user, MemberLibrary.objects.get(pk=library_pk), role, invited_by=actor)


def mark_invited_address_verified(sender, request, user, **kwargs) -> None:
    """allauth ``password_reset`` receiver: the key reached the person's own address.

    allauth (65.x) does not verify an address when a password is set from a key, and
    login requires a verified address, so an invited person could not log in otherwise.
    Only the account's own (login) address is marked: invitations are mailed there, and
    people here have that one address, so a reset key reaches it too.
    """
    EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=False).update(
        verified=True
    )
