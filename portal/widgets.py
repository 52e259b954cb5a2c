"""The browser's own date, time and number inputs, for every form of the portal.

A date field re-shown with its error must not carry the bad value back: ``value="2026-02-30"``
on ``<input type="date">`` is invalid HTML, and the browser shows an empty box anyway. So
these inputs write their value only when it is one the input type allows.
"""

from __future__ import annotations

from datetime import date, datetime

from django import forms


def _parses(parse, value) -> bool:
    try:
        parse(value)
    except (TypeError, ValueError):
        return False
    return True


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")

    def format_value(self, value):
        value = super().format_value(value)
        return value if value is None or _parses(date.fromisoformat, value) else None


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")

    def format_value(self, value):
        value = super().format_value(value)
        return value if value is None or _parses(datetime.fromisoformat, value) else None


class NumberInput(forms.NumberInput):
    def format_value(self, value):
        value = super().format_value(value)
        return value if value is None or _parses(float, value) else None
