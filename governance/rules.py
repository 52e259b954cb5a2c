"""Who may do what in governance, and the names the services and the selectors both read:
the permissions, the final states, and under what authority a ballot is cast. Below the
services, so the selectors need not import them."""

from __future__ import annotations

from dataclasses import dataclass

from portal import access
from portal.members.selectors import consortium_root

from .models import Delegation, Proposal

CAST = "governance.cast_ballot"
NAME_PROXY = "governance.name_proxy"
MANAGE = "governance.manage_committees"
VIEW = "governance.view_proposals"

FINAL_STATES = (Proposal.State.DECIDED, Proposal.State.FAILED)
# How long a decision stays "recent": on the dashboard, and for a late decision email.
RECENT_DAYS = 14


def can_manage(user) -> bool:
    # Most people hold the permission nowhere, which the request already knows (the
    # navigation asks the same); only those who hold it somewhere are checked at the root.
    return MANAGE in access.permissions_anywhere(user) and access.can(
        user, MANAGE, consortium_root()
    )


@dataclass(frozen=True)
class VotingAuthority:
    kind: str
    delegation: Delegation | None = None
