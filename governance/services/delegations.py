"""Naming and revoking the alternates and proxies who vote for a library."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import access
from portal.audit.services import record
from portal.members.models import MemberLibrary

from ..models import Delegation
from ..rules import NAME_PROXY
from .errors import GovernanceError, NotAllowed


def check_name_delegate(user, library: MemberLibrary, person, kind, starts_on, ends_on) -> None:
    if not access.can(user, NAME_PROXY, library):
        raise NotAllowed(_("You may not name a proxy for this library."))
    if library.kind not in (MemberLibrary.Kind.SYSTEM, MemberLibrary.Kind.LIBRARY):
        raise GovernanceError(_("Only voting members name proxies."))
    if person is None or not person.is_active:
        raise GovernanceError(_("No active account has that address."))
    if person.pk == user.pk:
        raise GovernanceError(_("You cannot name yourself."))
    if kind not in Delegation.Kind.values:
        raise GovernanceError(_("Choose alternate or proxy."))
    if kind == Delegation.Kind.PROXY and ends_on is None:
        raise GovernanceError(_("A proxy needs an end date."))
    if ends_on is not None and ends_on < starts_on:
        raise GovernanceError(_("The end date comes before the start date."))


def do_name_delegate(user, library, person, kind, starts_on, ends_on=None) -> Delegation:
    with transaction.atomic():
        check_name_delegate(user, library, person, kind, starts_on, ends_on)
        delegation = Delegation.objects.create(
            library=library,
            person=person,
            kind=kind,
            starts_on=starts_on,
            ends_on=ends_on,
            named_by=user,
        )
        record(
            "governance.delegation.named",
            actor=user,
            library=library,
            obj=delegation,
            data={"person": person.email, "kind": kind, "from": starts_on, "until": ends_on},
        )
    return delegation


def do_revoke_delegate(user, delegation: Delegation) -> Delegation:
    with transaction.atomic():
        delegation = Delegation.objects.select_for_update().get(pk=delegation.pk)
        if not access.can(user, NAME_PROXY, delegation.library):
            raise NotAllowed(_("You may not revoke this proxy."))
        if delegation.revoked_at is None:
            delegation.revoked_at = timezone.now()
            delegation.save(update_fields=["revoked_at"])
            record(
                "governance.delegation.revoked",
                actor=user,
                library=delegation.library,
                obj=delegation,
            )
    return delegation
