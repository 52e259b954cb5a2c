"""What the policy page's form offers, read from the core alone (no model of this plugin,
so the page model's form can use it): the roles that acknowledge by default, and the
quizzes other plugins offer as reading checks."""

from __future__ import annotations

from portal.members.roles import CONSORTIUM_ADMIN, definitions, permissions_of_role
from portal.members.selectors import consortium_root
from portal.signals import reading_quizzes


def default_acknowledging_roles() -> list[str]:
    """Roles that acknowledge policies by default: those holding ``acknowledge_policy``."""
    return [
        role
        for role in definitions()
        if role != CONSORTIUM_ADMIN and "policies.acknowledge_policy" in permissions_of_role(role)
    ]


def offered_quizzes() -> list[tuple[str, str]]:
    """Every quiz another plugin offers as a reading check, as (key, label)."""
    root = consortium_root()
    offers = []
    for _receiver, answer in reading_quizzes.send_robust(sender=root):
        if isinstance(answer, list | tuple):
            offers.extend((str(key), str(label)) for key, label in answer)
    return offers
