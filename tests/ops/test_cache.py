"""Production shares one Redis cache between its workers, so throttles count per person."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from portal.cache import RedisCache

from .test_security import production_env

ROOT = Path(__file__).resolve().parents[2]


def production_caches(**extra) -> dict:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, json; django.setup(); from django.conf import settings; "
            "print(json.dumps(settings.CACHES['default']))",
        ],
        cwd=ROOT,
        env=production_env(**extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.slow
def test_production_caches_in_redis_from_redis_url():
    cache = production_caches()
    assert cache["BACKEND"] == "portal.cache.RedisCache"  # Django's, its clients kept
    assert cache["LOCATION"] == "redis://redis.example.org:6379/0"
    assert production_caches(REDIS_CACHE_URL="redis://cache:6379/3")["LOCATION"] == (
        "redis://cache:6379/3"
    )


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis")
@pytest.mark.slow
def test_two_processes_see_one_throttle_count():
    """Two gunicorn workers are two cache clients: each sees the other's failed logins."""
    location = os.environ["REDIS_URL"]
    one, two = (RedisCache(location, {"KEY_PREFIX": "concord-test"}) for _ in range(2))
    key = f"allauth:rl:login_failed:{os.getpid()}"
    one.delete(key)
    for _ in range(3):
        one.set(key, (one.get(key) or 0) + 1, 60)
    assert two.get(key) == 3
    two.delete(key)


def test_the_redis_cache_keeps_one_client_and_works_as_django_s():
    cache = RedisCache(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), {})
    key = f"test-cache-{uuid.uuid4().hex}"
    client = cache._cache.get_client(key)
    assert cache._cache.get_client(key) is client
    assert cache._cache.get_client(key, write=True) is client  # one server: one pool
    assert cache.add(key, {"a": 1}, 30)
    assert not cache.add(key, {"a": 2}, 30)
    assert cache.get_many([key, key + "-missing"]) == {key: {"a": 1}}
    cache.set_many({key: [1, 2]}, 30)
    assert cache.get(key) == [1, 2]
    cache.delete(key)
    assert cache.get(key) is None
