"""What a governance write raises when the rules refuse it."""

from __future__ import annotations


class GovernanceError(Exception):
    """A write that the rules refuse; the message is safe to show."""


class NotAllowed(GovernanceError):
    pass


class VotingClosed(GovernanceError):
    pass


class InvalidChoice(GovernanceError):
    pass


class ReceiptRequired(GovernanceError):
    pass


class BallotNotRecorded(GovernanceError):
    """The database did not answer while a ballot was cast."""
