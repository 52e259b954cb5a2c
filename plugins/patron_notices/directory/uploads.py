"""Reading an uploaded patron file: its encoding line by line, its header, and what a file
must be before anything is kept."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator

from django.core.files.base import File
from django.utils.translation import gettext as _

from ..conf import conf


class Lines:
    """Lines of a byte stream as text: UTF-8 (a leading BOM dropped), else Latin-1.

    Decided per line, so one bad line from a badly converted export does not throw the
    whole file into the wrong encoding; ``on_latin1(line_number)`` hears of each fallback.
    ``offset`` is the byte position after the last line handed out, so a row can be found
    again in the file later (the problems download quotes duplicate rows that way).
    A line ends at ``\n``, ``\r\n`` or a lone ``\r``, as Django's ``File`` splits them.
    """

    # Read in blocks and split in C: a million-row file is a million lines, and a Python
    # step per line (Django's File iterates so) was a tenth of the import's Python time.
    CHUNK = 64 * 1024

    def __init__(self, stream, on_latin1=None, offset: int = 0):
        self.stream = stream
        self.on_latin1 = on_latin1
        self.offset = offset

    def _raw_lines(self) -> Iterator[bytes]:
        source = self.stream
        while isinstance(source, File):
            source = source.file
        if self.offset == 0 and source.seekable():
            source.seek(0)  # from the start, as Django's File reads
        read, size = source.read, self.CHUNK
        pending = b""
        while chunk := read(size):
            lines = (pending + chunk).splitlines(True) if pending else chunk.splitlines(True)
            pending = lines.pop()
            # A last line without its end, or ending in \r (a \n may open the next block),
            # waits for the next block.
            if pending.endswith(b"\n"):
                lines.append(pending)
                pending = b""
            yield from lines
        if pending:
            yield pending

    def __iter__(self) -> Iterator[str]:
        offset = self.offset
        on_latin1 = self.on_latin1
        for number, raw in enumerate(self._raw_lines(), start=1):
            if offset == 0 and raw.startswith(codecs.BOM_UTF8):
                offset = len(codecs.BOM_UTF8)
                raw = raw[offset:]
            offset += len(raw)
            self.offset = offset
            if b"\x00" in raw:
                raise csv.Error("line contains NUL")
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                if on_latin1 is not None:
                    on_latin1(number)
                yield raw.decode("latin-1")


def decoded_lines(stream, on_latin1) -> Iterator[str]:
    return iter(Lines(stream, on_latin1))


def rows_at(stream, offsets: Iterable[int]) -> dict[int, str]:
    """The CSV text of the rows starting at these byte offsets, re-read from the file."""
    found = {}
    while isinstance(stream, File):
        stream = stream.file  # Django's File seeks to the start to read
    for offset in sorted(set(offsets)):
        stream.seek(offset)
        row = next(csv.reader(Lines(stream, offset=offset)), [])
        found[offset] = csv_line(row)
    return found


def read_header(stream) -> list[str]:
    """The header row of an uploaded file (first non-blank line)."""
    reader = csv.reader(decoded_lines(stream, lambda n: None))
    for row in reader:
        if any(cell.strip() for cell in row):
            return [cell.strip() for cell in row]
    return []


# -- what an upload may be -----------------------------------------------------------------
# Koha's export has 65 columns of at most 21 characters. The mapping page offers every
# column for each of 17 fields: these bound it to well under a megabyte.
MAX_COLUMNS = 250
MAX_COLUMN_NAME = 64
HEAD_BYTES = 64 * 1024  # read to sniff the file, and the longest header line
MAX_ROW_BYTES = 64 * 1024  # a longer row is listed as a problem, never stored whole
MAX_RAW = 2000  # characters of a refused row kept for the problems download


def max_bytes() -> int:
    # A million-patron Koha export is about 170 MB (bench/RESULTS.md); the proxy takes 200 MB.
    return conf().import_max_megabytes * 1024 * 1024


class UploadRefused(Exception):
    """The upload is not a patron CSV the import can read; the message says why, in words."""


# Files people pick by mistake, known by their first bytes.
_SIGNATURES = (
    (b"PK\x03\x04", _("This is a spreadsheet or another zipped file, not CSV: save it as CSV.")),
    (b"\xd0\xcf\x11\xe0", _("This is an old Excel file, not CSV: save it as CSV.")),
    (b"%PDF", _("This is a PDF, not CSV: export the patrons from the ILS as CSV.")),
    (b"\x1f\x8b", _("This file is compressed (gzip): unpack it first.")),
    (b"\xff\xfe", _("This file is in UTF-16: save it as UTF-8 CSV.")),
    (b"\xfe\xff", _("This file is in UTF-16: save it as UTF-8 CSV.")),
)
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 13)) + b"\x7f"


def size_text(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(n // 1024, 1)} KB"


def check_upload(upload) -> list[str]:
    """The header of an upload the import can read, or UploadRefused saying what is wrong.

    Reads the first 64 KB only: size, that it is text (not a spreadsheet, a PDF, binary
    data), that the column names end within it, how many columns and how long their names.
    Rows are checked one by one when the import runs.
    """
    size = upload.size or 0
    if size == 0:
        raise UploadRefused(_("The file is empty."))
    if size > max_bytes():
        raise UploadRefused(
            _("The file is %(size)s; the limit is %(limit)s. Split it into smaller files.")
            % {"size": size_text(size), "limit": size_text(max_bytes())}
        )
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    for signature, message in _SIGNATURES:
        if head.startswith(signature):
            raise UploadRefused(message)
    if b"\x00" in head or sum(head.count(bytes([c])) for c in _CONTROL) > len(head) // 100:
        raise UploadRefused(
            _("This is not a text file: it holds binary data. Export the patrons as CSV.")
        )
    text = head.removeprefix(codecs.BOM_UTF8)
    first = text.lstrip(b"\r\n")
    end = min((i for i in (first.find(b"\n"), first.find(b"\r")) if i >= 0), default=-1)
    if end < 0 and len(head) == HEAD_BYTES:
        raise UploadRefused(
            _("The first line, the column names, is longer than %(n)s: is this the right file?")
            % {"n": size_text(HEAD_BYTES)}
        )
    try:
        header = read_header(io.BytesIO(first if end < 0 else first[: end + 1]))
    except csv.Error:
        header = []
    if not header:
        raise UploadRefused(_("The first line should name the columns; it is empty."))
    if len(header) > MAX_COLUMNS:
        raise UploadRefused(
            _("The file has %(n)d columns; at most %(max)d are read. Export fewer columns.")
            % {"n": len(header), "max": MAX_COLUMNS}
        )
    if any(len(name) > MAX_COLUMN_NAME for name in header):
        raise UploadRefused(
            _("A column name is longer than %(n)d characters: is the first line the header?")
            % {"n": MAX_COLUMN_NAME}
        )
    return header


def csv_line(row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(row)
    return out.getvalue().rstrip("\r\n")


class ImportRefused(Exception):
    """The file as a whole cannot be imported (no card number column, empty)."""
