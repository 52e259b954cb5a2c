"""The one CSV writer: OWASP's CSV-injection rules, and every export goes through it."""

import csv
import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from portal import exports

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_starts_like_a_formula_is_text(start):
    text = exports.to_text(["h"], [[f'{start}HYPERLINK("http://x")']])
    [_header, [cell]] = list(csv.reader(io.StringIO(text)))
    assert cell == f'\'{start}HYPERLINK("http://x")'


def test_numbers_and_dates_the_code_made_are_left_alone():
    row = [-5, 2.5, Decimal("-1.10"), date(2026, 1, 2), None, True, "plain"]
    assert exports.line(row) == "-5,2.5,-1.10,2026-01-02,,True,plain\r\n"
    assert exports.line(["-5"]) == "'-5\r\n"  # text that looks like a number is still text


def test_separators_quotes_and_line_breaks_are_quoted():
    # A semicolon splits cells in many locales' spreadsheets: quoted, the formula stays inside.
    assert exports.line(["a;=1+1", 'say "hi"', "two\nlines", "a,b", "x\ty"]) == (
        '"a;=1+1","say ""hi""","two\nlines","a,b","x\ty"\r\n'
    )
    rows = list(csv.reader(io.StringIO(exports.to_text(["h"], [["a;=1", "b\r\nc"]]))))
    assert rows[1] == ["a;=1", "b\r\nc"]


def test_a_response_is_an_attachment():
    response = exports.csv_response("x.csv", ["a"], [["=1"]])
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert response.content.decode() == "a\r\n'=1\r\n"


def test_no_export_writes_csv_by_itself():
    """Every CSV the portal hands out goes through portal/exports.py."""
    # The import keeps a refused row as CSV text for the problems download (a cell there).
    allowed = {"portal/exports.py", "plugins/patron_notices/directory/uploads.py"}
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv/", "tests/", "bench/", "var/")) or rel in allowed:
            continue
        if re.search(r"csv\.(writer|DictWriter)\(", path.read_text(encoding="utf-8")):
            offenders.append(rel)
    assert offenders == []
