import pytest

from tests import factories


@pytest.fixture
def small_tree(db):
    """Consortium -> 2 systems -> 2 branches each."""
    return factories.tree(systems=2, branches=2)


def pytest_collection_modifyitems(config, items):
    """Browser journeys are slow by nature: ``-m "not slow"`` leaves them out."""
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.slow)
