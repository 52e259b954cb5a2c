"""Calendar arithmetic the modules share."""

from __future__ import annotations

import calendar
import datetime
from typing import TypeVar

When = TypeVar("When", datetime.date, datetime.datetime)


def add_months(when: When, months: int) -> When:
    """``when`` (a date or a datetime) plus whole calendar months, on the same day of the
    month or the month's last day when it has fewer (31 Jan + 1 month = 28 or 29 Feb)."""
    month_index = when.month - 1 + months
    year, month = when.year + month_index // 12, month_index % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)
