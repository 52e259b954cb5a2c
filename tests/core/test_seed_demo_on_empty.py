"""seed_demo on an empty database: refused without DEBUG, and a few hundred libraries."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from portal.members.models import MemberLibrary

from .test_seed_demo import seed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def debug(settings):
    settings.DEBUG = True


def test_refused_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        seed()
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_totp", stdout=io.StringIO())
    assert not MemberLibrary.objects.exists()


@pytest.mark.slow
def test_a_few_hundred_libraries_seed():
    # Its speed is measured by bench/seed.py, not here.
    seed(libraries=200, staff_per_library=1, patrons=2000)
    assert MemberLibrary.objects.count() == 1 + 200 + 10


def test_one_library_seeds_with_its_chair_confirmed_rather_than_elected():
    from governance.models import Proposal

    seed(libraries=1, staff_per_library=1, patrons=10)
    chair = Proposal.objects.get(title="Election of the chair of the Board")
    assert chair.kind == Proposal.Kind.YES_NO and chair.state == Proposal.State.DECIDED
