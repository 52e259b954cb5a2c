"""Builders for governance tests: members with MFA, proposals opened through the services."""

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.models import Proposal, ProposalOption
from governance.services.ballots import cast_ballot
from governance.services.proposals import do_open_proposal
from portal.members.models import MemberLibrary
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF
from tests import factories
from tests.factories import with_mfa


class World:
    def __init__(self, systems=3):
        self.root = factories.consortium()
        self.libraries = [factories.library(self.root) for _ in range(systems)]
        self.branch = factories.library(self.libraries[0])
        self.admin = with_mfa(factories.member(self.root, CONSORTIUM_ADMIN))
        self.directors = [with_mfa(factories.member(lib, DIRECTOR)) for lib in self.libraries]
        self.staff = factories.member(self.libraries[0], STAFF)

    def add_library(self, **fields):
        library = factories.library(self.root, kind=MemberLibrary.Kind.LIBRARY, **fields)
        director = with_mfa(factories.member(library, DIRECTOR))
        self.libraries.append(library)
        self.directors.append(director)
        return library, director

    def proposal(self, options=(), open_=True, **fields):
        fields.setdefault("title", "Adopt the shared loan rules")
        fields.setdefault("closes_at", timezone.now() + timedelta(days=3))
        proposal = Proposal.objects.create(**fields)
        for n, key in enumerate(options):
            ProposalOption.objects.create(
                proposal=proposal, key=key, label=key.title(), sort_order=n
            )
        if open_:
            proposal = do_open_proposal(self.admin, proposal)
        return proposal

    def vote(self, n, proposal, choice, receipt=None, user=None):
        return cast_ballot(
            user or self.directors[n], proposal.pk, self.libraries[n].pk, choice, receipt
        )


@pytest.fixture
def world(db):
    return World()


def expire(proposal):
    """Move the window into the past, as if time had passed."""
    Proposal.objects.filter(pk=proposal.pk).update(
        opens_at=timezone.now() - timedelta(days=2), closes_at=timezone.now() - timedelta(seconds=1)
    )
    proposal.refresh_from_db()
    return proposal
