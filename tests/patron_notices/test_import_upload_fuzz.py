"""The import upload, fuzzed: sizes, encodings, binary data, columns and field lengths.

Every case ends in a clear message on the upload page (and no job), or in a finished job
(done, or rejected with its reason in words): never a server error, never a job left
half-written in "mapping", "queued" or "running".
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins.patron_notices.directory import uploads
from plugins.patron_notices.models import ImportJob

from .conftest import KOHA_HEADER, koha_row

pytestmark = pytest.mark.django_db

GOOD_ROWS = [
    koha_row(1, "1001", "Okafor", "Ada", "ada@example.org"),
    koha_row(2, "1002", "Brown", "Bo", "bo@example.org"),
]


def koha(*rows, header=KOHA_HEADER, newline="\n") -> bytes:
    return newline.join([header, *rows]).encode() + newline.encode()


def upload(client, library, content: bytes, preset="koha", name="patrons.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"/patron-notices/libraries/{library.code}/import/",
        {"file": SimpleUploadedFile(name, content, content_type="text/csv"), "preset": preset},
    )


def run(client, library, content: bytes, preset="koha") -> tuple[str, str]:
    """("refused", message) or ("done"/"rejected", the job's error), after the whole flow."""
    before = set(ImportJob.objects.values_list("pk", flat=True))
    response = upload(client, library, content, preset)
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 200:
        assert set(ImportJob.objects.values_list("pk", flat=True)) == before  # nothing kept
        message = _form_error(response)
        assert message, "the upload was refused without a message"
        return "refused", message
    [job_id] = set(ImportJob.objects.values_list("pk", flat=True)) - before
    mapping = client.get(f"/patron-notices/imports/{job_id}/mapping/")
    assert mapping.status_code in (200, 302)
    # Bounded by the column limits (250 names of 64 characters, 17 fields): under 1 MB.
    assert len(mapping.content) < 1_000_000
    job = ImportJob.objects.get(pk=job_id)
    if job.status == ImportJob.Status.MAPPING:
        card = job.mapping.get("card_number") or _first_column(mapping)
        data = {"mode": "valid_rows", **{f"map_{k}": v for k, v in job.mapping.items()}}
        data["map_card_number"] = card
        with CAPTURE[0](execute=True):
            posted = client.post(f"/patron-notices/imports/{job_id}/mapping/", data)
        assert posted.status_code in (200, 302)
        if posted.status_code == 200:  # the mapping form said what is wrong
            assert _form_error(posted)
            ImportJob.objects.filter(pk=job_id).delete()
            return "refused", _form_error(posted)
    job.refresh_from_db()
    assert job.status in (ImportJob.Status.DONE, ImportJob.Status.REJECTED), job.status
    assert job.phase == ImportJob.Phase.DONE
    if job.status == ImportJob.Status.REJECTED:
        assert job.error and " " in job.error, job.error  # words, not an exception's name
        page = client.get(f"/patron-notices/imports/{job_id}/")
        assert job.error in page.content.decode().replace("&#x27;", "'")
    return job.status, job.error


def _form_error(response) -> str:

    found = re.findall(
        r'<ul class="errorlist[^"]*"[^>]*>\s*<li>(.*?)</li>', response.content.decode()
    )
    return found[0] if found else ""


def _first_column(response) -> str:

    options = re.findall(r'<option value="([^"]+)"', response.content.decode())
    return options[0] if options else ""


# The import runs on commit: the tests run the callbacks as the request ends.
CAPTURE: list = []


@pytest.fixture
def comms_client(client, people, django_capture_on_commit_callbacks):
    CAPTURE[:] = [django_capture_on_commit_callbacks]
    client.force_login(people["comms"])
    return client


# -- the cases the probe found -----------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_before_anything_is_kept(
    comms_client, libs, people, settings
):
    from django.core.exceptions import ValidationError
    from django.core.files.uploadedfile import SimpleUploadedFile

    from plugins.patron_notices.directory import services

    settings.PATRON_IMPORT_MAX_MEGABYTES = 1
    rows = [koha_row(i, f"C{i}", "Name", "First", f"p{i}@example.org") for i in range(9000)]
    content = koha(*rows)
    assert len(content) > 1024 * 1024
    with pytest.raises(ValidationError, match=r"limit is 1\.0 MB"):
        services.check_start_import(
            people["comms"], libs["north"], SimpleUploadedFile("p.csv", content)
        )
    outcome, message = run(comms_client, libs["north"], content)
    assert outcome == "refused" and "larger than 1 MB" in message
    assert not ImportJob.objects.exists()


def test_a_body_over_the_limit_is_refused_unread(comms_client, libs, settings):
    settings.PATRON_IMPORT_MAX_MEGABYTES = 1
    response = comms_client.generic(
        "POST",
        f"/patron-notices/libraries/{libs['north'].code}/import/",
        b"x" * 10,
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(3 * 1024 * 1024),
    )
    assert response.status_code == 200 and "larger than 1 MB" in _form_error(response)
    assert not ImportJob.objects.exists()


def test_binary_junk_is_refused(comms_client, libs):
    outcome, message = run(comms_client, libs["north"], random.Random(1).randbytes(200_000))
    assert outcome == "refused" and ("binary" in message or "not CSV" in message), message


def test_ten_thousand_columns_are_refused(comms_client, libs):
    header = ",".join(f"c{i}" for i in range(10_000))
    outcome, message = run(comms_client, libs["north"], koha(header=header), preset="generic")
    assert outcome == "refused" and "10000 columns" in message


def test_a_five_megabyte_header_line_is_refused_and_leaves_no_job(comms_client, libs):
    outcome, message = run(comms_client, libs["north"], b"cardnumber" + b"x" * 5_000_000 + b"\n")
    assert outcome == "refused" and "first line" in message
    assert not ImportJob.objects.filter(status=ImportJob.Status.MAPPING).exists()


def test_a_job_kept_before_the_checks_no_longer_answers_500(comms_client, libs, people):
    from django.core.files.base import ContentFile

    job = ImportJob.objects.create(
        library=libs["north"],
        created_by=people["comms"],
        file=ContentFile(b"cardnumber" + b"x" * 5_000_000 + b"\n", name="old.csv"),
    )
    response = comms_client.get(f"/patron-notices/imports/{job.pk}/mapping/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REJECTED and "first line" in job.error
    assert comms_client.get(f"/patron-notices/imports/{job.pk}/mapping/").status_code == 302


def test_a_five_megabyte_data_line_is_rejected_in_words(comms_client, libs):
    long_row = koha_row(3, "1003", "Long", "Line", "l@example.org", borrowernotes="n" * 5_000_000)
    outcome, error = run(comms_client, libs["north"], koha(GOOD_ROWS[0], long_row))
    assert outcome == "rejected" and "Line 3" in error and "longer than 128 KB" in error


def test_a_long_row_of_short_fields_is_a_problem_not_a_stored_megabyte(comms_client, libs):
    wide = koha_row(3, "1003", "Wide", "Row", "w@example.org") + ",x" * 50_000
    outcome, _error = run(comms_client, libs["north"], koha(*GOOD_ROWS, wide))
    assert outcome == ImportJob.Status.DONE
    job = ImportJob.objects.get()
    [problem] = job.problems.all()
    assert problem.code == "row_too_long" and len(problem.raw) <= uploads.MAX_RAW
    assert job.rows_imported == 2


def test_old_mac_line_ends_are_read(comms_client, libs):
    outcome, error = run(comms_client, libs["north"], koha(*GOOD_ROWS, newline="\r"))
    assert outcome == "done", error
    assert ImportJob.objects.get().rows_imported == 2


def test_a_nul_byte_deep_in_the_file_is_rejected_in_words(comms_client, libs):
    filler = [koha_row(i, f"F{i}", "Fill", "Er", f"f{i}@example.org") for i in range(1000)]
    content = koha(*filler, GOOD_ROWS[0].replace("Okafor", "Oka\x00for"))
    assert b"\x00" not in content[: uploads.HEAD_BYTES]
    outcome, error = run(comms_client, libs["north"], content)
    assert outcome == "rejected" and "NUL" in error


# -- sizes, encodings, binary, columns, field lengths ---------------------------------------------

CASES = {
    "empty": b"",
    "blank lines only": b"\n\n\r\n",
    "header only": koha(),
    "utf-8": koha(koha_row(1, "1001", "Müller", "Zoë", "z@example.org")),
    "utf-8 with BOM": codecs.BOM_UTF8 + koha(*GOOD_ROWS),
    "latin-1": koha().replace(b"", b"")
    + (koha_row(1, "1001", "Müller", "Zoë", "z@example.org") + "\n").encode("latin-1"),
    "windows line ends": koha(*GOOD_ROWS, newline="\r\n"),
    "old mac line ends": koha(*GOOD_ROWS, newline="\r"),
    "utf-16": koha(*GOOD_ROWS).decode().encode("utf-16"),
    "xlsx": b"PK\x03\x04" + os.urandom(2000),
    "pdf": b"%PDF-1.7\n" + os.urandom(2000),
    "gzip": b"\x1f\x8b\x08" + os.urandom(2000),
    "nul in header": b"cardnumber,\x00name\n1,2\n",
    "control characters": bytes(range(1, 9)) * 2000,
    "no card column": b"name,email\nAda,a@example.org\n",
    "250 columns": (",".join(["cardnumber", *[f"c{i}" for i in range(249)]]) + "\n1\n").encode(),
    "251 columns": (",".join(["cardnumber", *[f"c{i}" for i in range(250)]]) + "\n1\n").encode(),
    "widest header allowed": (
        ",".join(["cardnumber", *[f"{i:03d}" + "n" * 61 for i in range(249)]]) + "\n1\n"
    ).encode(),
    "long column name": ("cardnumber," + "n" * 65 + "\n1,2\n").encode(),
    "unbalanced quote": koha(GOOD_ROWS[0], '3,"1003,Open'),
    "short and long rows": koha("1,1001", GOOD_ROWS[1] + ",extra,extra"),
    "field of 100 KB": koha(koha_row(1, "1001", "A" * 100_000, "B", "c@example.org")),
    "field of 200 KB": koha(koha_row(1, "1001", "A" * 200_000, "B", "c@example.org")),
    "card of 1000 characters": koha(koha_row(1, "9" * 1000, "A", "B", "c@example.org")),
    "email of 10000 characters": koha(koha_row(1, "1001", "A", "B", "c" * 10_000 + "@x.org")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_case_ends_in_a_message_or_a_finished_job(comms_client, libs, case):
    outcome, _message = run(comms_client, libs["north"], CASES[case])
    assert outcome in ("refused", ImportJob.Status.DONE, ImportJob.Status.REJECTED)
    assert not ImportJob.objects.exclude(
        status__in=[ImportJob.Status.DONE, ImportJob.Status.REJECTED]
    ).exists()


PIECES = st.one_of(
    st.sampled_from([KOHA_HEADER, *GOOD_ROWS, "", '"', '""', ",,,", "\x00", "\r", "\t"]),
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.integers(0, 300_000).map(lambda n: "x" * n),
)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    pieces=st.lists(PIECES, max_size=8),
    joiner=st.sampled_from(["\n", "\r\n", ",", "\r"]),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16", "cp1252"]),
    lead_header=st.booleans(),
)
def test_random_files_end_in_a_message_or_a_finished_job(
    comms_client, libs, pieces, joiner, encoding, lead_header
):
    ImportJob.objects.all().delete()  # examples share the test's transaction
    text = joiner.join(([KOHA_HEADER] if lead_header else []) + pieces)
    content = text.encode(encoding, errors="replace")
    outcome, _message = run(comms_client, libs["north"], content)
    assert outcome in ("refused", ImportJob.Status.DONE, ImportJob.Status.REJECTED)
    assert not ImportJob.objects.exclude(
        status__in=[ImportJob.Status.DONE, ImportJob.Status.REJECTED]
    ).exists()


# -- the problems download is a CSV no spreadsheet runs -------------------------------------------


def test_problems_csv_defuses_formulas_in_rows_columns_and_messages(comms_client, libs):
    header = KOHA_HEADER.replace("borrowernumber", "=cmd|' /C calc'!A0")
    bad = koha_row(9, "2001", "Evil", "Eve", "not-an-email").replace("9,", "=1+2,", 1)
    outcome, _error = run(comms_client, libs["north"], koha(bad, header=header))
    assert outcome == ImportJob.Status.DONE
    job = ImportJob.objects.get()
    text = comms_client.get(f"/patron-notices/imports/{job.pk}/problems.csv").content.decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 2
    starts = ("=", "+", "-", "@", "\t", "\r")
    assert all(not cell.startswith(starts) for row in rows for cell in row)
    assert "'=1+2" in rows[1][3]  # the raw row, quoted as text
