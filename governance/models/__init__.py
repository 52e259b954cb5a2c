"""Committees, meetings, proposals and ballots. The library is the voter.

One concern a module: ``committees``, ``meetings`` (with their agendas), ``proposals``
(with their options, window extensions and discussion), ``electorate`` (who holds a vote,
and each eligible library's weight in a proposal), ``delegations`` (alternates and
proxies) and ``ballots`` (with their sealed secret choices and history; how a secret
ballot is kept secret is said there). Gathered here, where Django and the migrations look
for an app's models.
"""

from .ballots import Authority, Ballot, BallotEvent, SecretChoice
from .committees import Committee, CommitteeMembership
from .delegations import Delegation
from .electorate import VOTING_KINDS, Eligibility, voting_members
from .meetings import AgendaItem, Meeting
from .proposals import Comment, Proposal, ProposalAdminForm, ProposalOption, WindowExtension

__all__ = [
    "VOTING_KINDS",
    "AgendaItem",
    "Authority",
    "Ballot",
    "BallotEvent",
    "Comment",
    "Committee",
    "CommitteeMembership",
    "Delegation",
    "Eligibility",
    "Meeting",
    "Proposal",
    "ProposalAdminForm",
    "ProposalOption",
    "SecretChoice",
    "WindowExtension",
    "voting_members",
]
