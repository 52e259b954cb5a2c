"""Acknowledgement campaigns: who must read a version, and by when."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import access
from portal.audit.services import record_on_commit

from ..choices import default_acknowledging_roles
from ..models import (
    AcknowledgementCampaign,
    PolicyVersion,
)


def check_start_campaign(user, version: PolicyVersion, *, roles, libraries, due_date):
    """The office asks ``roles`` at ``libraries`` (none: every library) to acknowledge."""
    if not access.can_anywhere(user, "policies.manage_policies"):
        raise PermissionDenied
    allowed = set(default_acknowledging_roles())
    if not roles or not set(roles) <= allowed:
        raise ValidationError(_("Choose the roles that acknowledge policies."))
    if due_date < timezone.localdate():
        raise ValidationError(_("The due date has passed."))
    latest = PolicyVersion.objects.filter(policy_id=version.policy_id).aggregate(n=Max("number"))
    if version.number != latest["n"]:
        raise ValidationError(_("Only the current version can be acknowledged."))


def do_start_campaign(
    user, version, *, roles, libraries=(), due_date, quiz_key: str = ""
) -> AcknowledgementCampaign:
    """Open an acknowledgement campaign for ``version``; audited."""
    campaign = AcknowledgementCampaign.objects.create(
        policy_id=version.policy_id,
        version=version,
        roles=list(roles),
        due_date=due_date,
        quiz_key=quiz_key or "",
        created_by=user,
    )
    if libraries:
        campaign.libraries.set(libraries)
    record_on_commit(
        "policy.campaign_started",
        actor=user,
        obj=campaign,
        data={
            "code": version.code,
            "version": version.number,
            "roles": list(roles),
            "libraries": [lib.pk for lib in libraries],
            "due": due_date.isoformat(),
            "quiz": quiz_key or "",
        },
    )
    return campaign
