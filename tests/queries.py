"""Query counts of a page, for the tests that show a list's cost does not grow with it,
and the shared cache's round trips, for those that show a page reads it at once."""

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext


def get_counting_queries(client, path: str):
    """(number of queries, response) of a GET that must succeed."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(ctx.captured_queries), response


def record_cache_reads(monkeypatch, module) -> list[list[str]]:
    """The keys of each read ``module`` makes of the shared cache from now on: one list
    per round trip (``get`` or ``get_many``)."""
    reads: list[list[str]] = []

    class Recording:
        def __getattr__(self, name):
            return getattr(cache, name)

        def get(self, key, *args, **kwargs):
            reads.append([key])
            return cache.get(key, *args, **kwargs)

        def get_many(self, keys, *args, **kwargs):
            reads.append(list(keys))
            return cache.get_many(keys, *args, **kwargs)

    monkeypatch.setattr(module, "cache", Recording())
    return reads
