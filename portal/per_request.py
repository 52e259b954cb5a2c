"""What a request may work out once and reuse: the roles' stamp, the plugin switches.

A page asks ``portal.access`` many times (each dashboard panel, the navigation, the MFA
check), and each answer reads the same few things: whether the roles changed (a Redis
round trip) and which plugins are switched on where (two queries). Within one request they
do not change unless the request itself changes them, and the code that does so calls
:func:`forget`. Outside a request (a Celery task, the shell, a test calling a service) there
is no memory and every call reads afresh, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_memory: ContextVar[dict | None] = ContextVar("concord_per_request", default=None)


def remember(key: str, compute: Callable[[], T]) -> T:
    """``compute()``, worked out once per request under ``key``."""
    memory = _memory.get()
    if memory is None:
        return compute()
    if key not in memory:
        memory[key] = compute()
    return memory[key]


def remembered(key: str) -> bool:
    """True when the request already worked ``key`` out."""
    memory = _memory.get()
    return memory is not None and key in memory


def active() -> bool:
    """True inside a request (where what is remembered lasts until the response)."""
    return _memory.get() is not None


def forget(*keys: str) -> None:
    """Drop what the request remembered under ``keys`` (after changing it)."""
    memory = _memory.get()
    if memory is not None:
        for key in keys:
            memory.pop(key, None)


class PerRequestMiddleware:
    """Gives each request its own memory, and drops it when the response is made."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _memory.set({})
        try:
            return self.get_response(request)
        finally:
            _memory.reset(token)
