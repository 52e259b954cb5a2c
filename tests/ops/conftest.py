"""Fixtures shared by the operations tests."""

import uuid

import pytest

from portal.celery import app
from tests.core.test_celery import redis_or_skip


@pytest.fixture
def own_control_exchange(settings):
    """A control exchange of this test's own: no other worker on the same Redis answers
    the pings, so "no worker" really means none."""
    redis_or_skip()
    saved = app.conf.control_exchange
    app.conf.control_exchange = f"test-ready-{uuid.uuid4().hex}"
    app.__dict__.pop("control", None)  # Control reads the exchange name when it is made
    yield app
    app.conf.control_exchange = saved
    app.__dict__.pop("control", None)
