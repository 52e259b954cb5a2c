"""Django's Redis cache, with one Redis client per connection pool rather than one per call.

Django's ``RedisCacheClient`` builds a new ``redis.Redis`` for every cache operation, and
building one fills a table of some 170 response callbacks: about a sixth of a
millisecond, more than a round trip to Redis on the same machine, and a signed-in page
makes about eight. A ``redis.Redis`` may be shared by threads (each command takes a
connection from the pool while it runs), so one per pool is kept.
"""

from __future__ import annotations

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
