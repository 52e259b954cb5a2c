"""Ballots: one per library and proposal, the authority it was cast under, and its history.

Secrecy: for a secret proposal the :class:`Ballot` row (who voted, for which library,
under which authority) holds no choice; the choice lives in :class:`SecretChoice`, sealed:
encrypted to the proposal's public key, whose private part the database holds only
encrypted under a key it never sees (``governance/sealing.py``). The count multiplies the
sealed ballots and decrypts only the sums, at the close. Whoever reads the database, a
backup or the write-ahead log can link a library to a ciphertext (same transaction, same
xmin), never to a choice. ``docs/ballot-secrecy.md`` states what this hides from whom.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.members.models import MemberLibrary

from .delegations import Delegation
from .proposals import Proposal


class Authority(models.TextChoices):
    DIRECTOR = "director", _("Director")
    ALTERNATE = "alternate", _("Alternate")
    PROXY = "proxy", _("Proxy")


class Ballot(models.Model):
    """One library's ballot on one proposal. ``choice`` is empty for secret proposals."""

    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="ballots")
    library = models.ForeignKey(MemberLibrary, on_delete=models.PROTECT, related_name="+")
    weight = models.DecimalField(max_digits=8, decimal_places=3)
    cast_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    authority = models.CharField(max_length=16, choices=Authority.choices)
    delegation = models.ForeignKey(
        Delegation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # sha256 of "ballot:" + receipt code; proves the holder of the code may change it.
    receipt_check = models.CharField(max_length=64)
    # sha256 of "choice:" + receipt code, shortened; shown in the public ballot list.
    # Kept here for open ballots only: for secret ones it would link library and choice.
    fingerprint = models.CharField(max_length=64, blank=True)
    choice = models.JSONField(null=True, blank=True)
    cast_at = models.DateTimeField()
    changes = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["proposal", "library"], name="one_ballot_per_library")
        ]

    def __str__(self):
        # Never the choice: the same string serves secret and open ballots.
        return f"Ballot of library {self.library_id} on #{self.proposal_id}"


class SecretChoice(models.Model):
    """The choice of a secret ballot, sealed: no library, no person, no time, a random key,
    and the choice only as ciphertexts of the proposal's key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="+")
    fingerprint = models.CharField(max_length=64, unique=True)
    weight = models.DecimalField(max_digits=8, decimal_places=3)
    # Paillier ciphertexts (hexadecimal) of the ballot's counters.
    sealed = models.JSONField(null=True, blank=True)
    # Only for ranked secret ballots cast before sealing; empty for every sealed one.
    choice = models.JSONField(null=True, blank=True)

    def __str__(self):
        return self.fingerprint


class BallotEvent(models.Model):
    """The history of a library's ballot: cast, changed. No choice for secret proposals."""

    class Action(models.TextChoices):
        CAST = "cast", _("cast")
        CHANGED = "changed", _("changed")

    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="ballot_events")
    library = models.ForeignKey(MemberLibrary, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    authority = models.CharField(max_length=16, choices=Authority.choices)
    choice = models.JSONField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.action} by library {self.library_id} on #{self.proposal_id}"
