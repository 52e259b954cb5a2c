"""Refusals raised by ``check_*`` services; the message is meant for the person acting."""

from __future__ import annotations


class ActionRefused(Exception):
    """A write was refused. ``message`` is translatable and safe to show to the actor."""

    def __init__(self, message, *, code: str = "refused"):
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return str(self.message)
