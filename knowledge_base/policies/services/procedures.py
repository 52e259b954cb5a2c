"""A member library's own procedure for a shared policy."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from portal import access
from portal.audit.services import record_on_commit
from portal.members.models import MemberLibrary

from ..models import (
    LocalProcedure,
    PolicyPage,
)


def check_local_procedure(user, page: PolicyPage, library: MemberLibrary, text: str):
    if not access.can(user, "policies.add_local_procedure", library):
        raise PermissionDenied
    if not page.live:
        raise ValidationError(_("This policy is not published."))


def do_save_local_procedure(user, page, library, text: str) -> LocalProcedure | None:
    """Create, update or (with empty text) remove the library's procedure for a policy."""
    if not text.strip():
        LocalProcedure.objects.filter(policy=page, library=library).delete()
        record_on_commit(
            "policy.local_procedure_removed", actor=user, library=library, data={"code": page.code}
        )
        return None
    procedure, _created = LocalProcedure.objects.update_or_create(
        policy=page, library=library, defaults={"text": text, "updated_by": user}
    )
    record_on_commit(
        "policy.local_procedure_saved",
        actor=user,
        library=library,
        obj=procedure,
        data={"code": page.code},
    )
    return procedure
