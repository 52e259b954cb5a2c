"""The discussion of a proposal, open from the moment it is."""

from __future__ import annotations

from django.utils.translation import gettext as _

from ..models import Comment, Proposal
from .errors import GovernanceError


def do_comment(user, proposal: Proposal, body: str, library=None) -> Comment:
    body = body.strip()
    if not body:
        raise GovernanceError(_("Write something first."))
    if proposal.state == Proposal.State.DRAFT:
        raise GovernanceError(_("The discussion opens with the proposal."))
    return Comment.objects.create(proposal=proposal, author=user, library=library, body=body)
