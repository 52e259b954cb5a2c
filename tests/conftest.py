import pytest

from tests import factories


@pytest.fixture
def small_tree(db):
    """Consortium -> 2 systems -> 2 branches each."""
    return factories.tree(systems=2, branches=2)
