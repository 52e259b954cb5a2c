"""Patron imports in the Wagtail admin: phases, the job list, the live progress endpoint."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from plugins.patron_notices.directory import services
from plugins.patron_notices.directory.importer import Importer
from plugins.patron_notices.models import ImportJob, Patron

from .conftest import KOHA_HEADER, koha_row, run_import

pytestmark = pytest.mark.django_db

ENGINES = ["orm", "sql"] if connection.vendor == "postgresql" else ["orm"]


def koha_file(*rows) -> bytes:
    return ("\n".join([KOHA_HEADER, *rows]) + "\n").encode()


def refused(response) -> bool:
    # Wagtail's admin answers PermissionDenied by sending the person back to its home page.
    return (
        response.status_code == 403
        or (response.status_code == 302 and response.url in ("/admin/", "/admin/login/"))
        or (response.status_code == 302 and response.url.startswith("/admin/login/"))
    )


def queued_job(user, library, content: bytes, full_sync=False) -> ImportJob:
    upload = SimpleUploadedFile("patrons.csv", content, content_type="text/csv")
    job, _header = services.do_upload_import(user, library, upload, "koha")
    job.status, job.full_sync = ImportJob.Status.QUEUED, full_sync
    job.save()
    return job


@pytest.mark.parametrize("engine", ENGINES)
def test_an_import_goes_through_its_phases_in_order(engine, people, libs):
    comms, north = people["comms"], libs["north"]
    Patron.objects.create(library=north, card_number="OLD")
    job = queued_job(
        comms, north, koha_file(koha_row(1, "1001", "Okafor", "Ada", "a@example.org")), True
    )
    assert job.phase == ImportJob.Phase.WAITING and job.percent == 0
    importer = Importer(job, engine=engine)
    job = importer.run()
    assert importer.phases == ["validating", "deduplicating", "writing", "expiring", "done"]
    job.refresh_from_db()
    assert (job.status, job.phase, job.percent, job.rows_expired) == ("done", "done", 100, 1)


def test_the_bar_follows_the_phase(libs):
    job = ImportJob(library=libs["north"], status=ImportJob.Status.RUNNING, size=1000)
    job.phase, job.bytes_read = ImportJob.Phase.VALIDATING, 500
    assert job.percent == 30  # reading is the first 60 %
    job.phase = ImportJob.Phase.WRITING
    assert job.percent == 65
    job.phase = ImportJob.Phase.EXPIRING
    assert job.percent == 95


def test_all_or_nothing_stops_after_deduplicating(people, libs):
    rows = [koha_row(1, "1001", "A", "B", "a@example.org"), koha_row(2, "1001", "C", "D", "")]
    job = queued_job(people["comms"], libs["north"], koha_file(*rows))
    job.mode = ImportJob.Mode.ALL_OR_NOTHING
    job.save()
    importer = Importer(job)
    job = importer.run()
    assert job.status == ImportJob.Status.REJECTED
    assert importer.phases == ["validating", "deduplicating", "done"]
    assert not Patron.objects.exists()


@pytest.fixture
def office(libs):
    from allauth.mfa.models import Authenticator

    from portal.members.roles import CONSORTIUM_ADMIN
    from tests import factories

    user = factories.member(libs["root"], CONSORTIUM_ADMIN, email="office@example.org")
    Authenticator.objects.create(user=user, type="totp", data={"secret": "x"})
    return user


@pytest.fixture
def two_jobs(people, libs, django_capture_on_commit_callbacks):
    north = run_import(
        people["comms"],
        libs["north"],
        koha_file(koha_row(1, "N1", "Okafor", "Ada", "bad-address")),
        capture=django_capture_on_commit_callbacks,
    )
    south = run_import(
        people["south_comms"],
        libs["south"],
        koha_file(koha_row(1, "S1", "Lee", "Chen", "chen@example.org", branch="")),
        capture=django_capture_on_commit_callbacks,
    )
    return {"north": north, "south": south}


def test_library_people_watch_their_own_imports_in_the_admin(client, people, two_jobs):
    north, south = two_jobs["north"], two_jobs["south"]
    for who in ("comms", "director"):
        # The admin's door opens with the role (directors have no other way in).
        assert people[who].has_perm("wagtailadmin.access_admin")
        client.force_login(people[who])
        index = client.get("/admin/patron_imports/")
        assert index.status_code == 200
        html = index.content.decode()
        assert f"/admin/patron_imports/{north.pk}/" in html
        assert f"/admin/patron_imports/{south.pk}/" not in html
        detail = client.get(f"/admin/patron_imports/{north.pk}/")
        assert detail.status_code == 200
        assert b'<progress id="import-bar"' in detail.content
        assert f"/patron-notices/imports/{north.pk}/problems.csv".encode() in detail.content
        status = client.get(f"/admin/patron_imports/{north.pk}/status.json").json()
        assert (status["status"], status["phase"], status["percent"]) == ("done", "done", 100)
        assert (status["rows_read"], status["rows_invalid"], status["running"]) == (1, 1, False)
        assert refused(client.get(f"/admin/patron_imports/{south.pk}/"))
        assert refused(client.get(f"/admin/patron_imports/{south.pk}/status.json"))


def test_the_office_sees_counts_only(client, office, two_jobs):
    north, south = two_jobs["north"], two_jobs["south"]
    client.force_login(office)
    html = client.get("/admin/patron_imports/").content.decode()
    assert f"/admin/patron_imports/{north.pk}/" in html
    assert f"/admin/patron_imports/{south.pk}/" in html
    detail = client.get(f"/admin/patron_imports/{north.pk}/")
    assert detail.status_code == 200
    assert b"problems.csv" not in detail.content  # the rows themselves are the library's
    assert client.get(f"/admin/patron_imports/{south.pk}/status.json").json()["rows_imported"] == 1
    assert client.get(f"/patron-notices/imports/{north.pk}/problems.csv").status_code == 403


def test_staff_have_no_import_pages(client, people, two_jobs):
    staff = people["staff"]
    assert not staff.has_perm("wagtailadmin.access_admin")
    client.force_login(staff)
    north = two_jobs["north"]
    for url in ("/admin/patron_imports/", f"/admin/patron_imports/{north.pk}/status.json"):
        assert refused(client.get(url))


def test_the_status_endpoint_shows_a_running_import_live(client, people, two_jobs):
    job = two_jobs["north"]
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.RUNNING,
        phase=ImportJob.Phase.WRITING,
        rows_read=1,
    )
    client.force_login(people["comms"])
    status = client.get(f"/admin/patron_imports/{job.pk}/status.json").json()
    assert (status["phase"], status["percent"], status["running"]) == ("writing", 65, True)
    assert status["phase_label"] == "Writing patrons and contacts"
    listing = client.get("/admin/patron_imports/").content.decode()
    assert "data-running" in listing and "Writing patrons and contacts" in listing


def test_people_who_held_the_role_before_the_group_get_in_on_migrate(people):
    from django.contrib.auth.models import Group

    from plugins.patron_notices.directory.admin import ADMIN_GROUP, sync_all_admin_keepers

    group = Group.objects.get(name=ADMIN_GROUP)
    group.user_set.clear()
    group.user_set.add(people["staff"])  # and someone who should not be there
    sync_all_admin_keepers()
    members = set(group.user_set.values_list("email", flat=True))
    assert members == {"comms@example.org", "dir@example.org", "sc@example.org"}
