"""Sending limits per notice per hour and per recipient domain per minute, kept in Redis.

Counters are fixed windows shared by every worker; a batch reserves its share up front in
one round trip, and the rows over the limit wait for the next window.
"""

from __future__ import annotations

import time
from collections import defaultdict

import redis
from django.conf import settings

_client = None


def client() -> redis.Redis:
    global _client  # one pool per process
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL)
    return _client


def _reserve(pipe_key: str, wanted: int, limit: int, ttl: int) -> int:
    """Reserve up to ``wanted`` of ``limit`` in the window; returns how many were granted."""
    r = client()
    total = r.incrby(pipe_key, wanted)
    if total == wanted:
        r.expire(pipe_key, ttl)
    over = max(0, total - limit)
    granted = max(0, wanted - over)
    if granted < wanted:
        r.decrby(pipe_key, wanted - granted)
    return granted


def admit(notice, rows):
    """(admitted rows, deferred rows, seconds to wait) under the notice's limits."""
    if not notice.hourly_limit and not notice.domain_limit:
        return rows, [], None
    now = time.time()
    deferred, wait = [], None
    if notice.hourly_limit:
        hour = int(now // 3600)
        granted = _reserve(f"pn:hour:{notice.pk}:{hour}", len(rows), notice.hourly_limit, 7200)
        if granted < len(rows):
            rows, extra = rows[:granted], rows[granted:]
            deferred += extra
            wait = (hour + 1) * 3600 - now
    if notice.domain_limit and rows:
        minute = int(now // 60)
        by_domain = defaultdict(list)
        for row in rows:
            by_domain[row.email.rpartition("@")[2].lower()].append(row)
        admitted = []
        for domain, domain_rows in by_domain.items():
            key = f"pn:domain:{domain}:{minute}"
            granted = _reserve(key, len(domain_rows), notice.domain_limit, 120)
            admitted += domain_rows[:granted]
            if granted < len(domain_rows):
                deferred += domain_rows[granted:]
                wait = min(wait or 3600, (minute + 1) * 60 - now)
        rows = sorted(admitted, key=lambda r: r.id)
    return rows, deferred, wait
