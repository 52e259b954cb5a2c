"""Fixtures shared by the operations tests."""

import uuid
from functools import cache

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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


@cache
def badge_key_pem() -> str:
    """A training badge signing key (Ed25519, PEM), which production settings require."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
