"""The one CSV writer for every export: cells a spreadsheet would run as formulas are defused.

OWASP's rules for CSV injection: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return is prefixed with a single quote, so Excel, LibreOffice and Sheets
show it as text; a cell holding a field separator (the comma, or the semicolon that
spreadsheets in many locales split on), a quote or a line break is put in double quotes,
its quotes doubled. Numbers, dates and booleans the code itself produced are written as
they are: only text can carry a formula.
"""

from __future__ import annotations

import datetime
import decimal
import io
from collections.abc import Iterable

from django.http import HttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NEEDS_QUOTES = frozenset(',;"\t\r\n')


def safe_cell(value) -> str | int | float | decimal.Decimal:
    """``value`` as a CSV cell no spreadsheet will evaluate."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | decimal.Decimal):
        return value
    if isinstance(value, datetime.date | datetime.datetime | datetime.time):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _field(value) -> str:
    text = str(safe_cell(value))
    if NEEDS_QUOTES.intersection(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def line(row: Iterable) -> str:
    """One CSV line (RFC 4180, CRLF-terminated) of safe cells."""
    return ",".join(_field(cell) for cell in row) + "\r\n"


class SafeWriter:
    """Writes rows of safe cells to a text stream (an HttpResponse, a StringIO)."""

    def __init__(self, stream):
        self._stream = stream

    def writerow(self, row: Iterable) -> None:
        self._stream.write(line(row))

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


def writer(stream) -> SafeWriter:
    return SafeWriter(stream)


def to_text(header: Iterable, rows: Iterable[Iterable]) -> str:
    buffer = io.StringIO()
    out = SafeWriter(buffer)
    out.writerow(header)
    out.writerows(rows)
    return buffer.getvalue()


def csv_response(filename: str, header: Iterable | None = None, rows=()) -> HttpResponse:
    """An attachment; write more rows with ``writer(response)`` when streaming by hand."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    out = SafeWriter(response)
    if header is not None:
        out.writerow(header)
    out.writerows(rows)
    return response
