"""Patrons per library, the office's counts and audited records, signed preference links."""

import pytest
from django.contrib.auth.models import Permission
from django.core import signing
from django.utils import timezone

from plugins.patron_notices.directory import services
from plugins.patron_notices.models import Contact, Patron, PreferenceChange
from portal.audit.models import AuditEntry
from portal.members.models import MemberLibraryUserObjectPermission
from portal.members.roles import CONSORTIUM_ADMIN
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def directory(libs):
    ada = Contact.objects.create(email="ada@example.org")
    north = Patron.objects.create(
        library=libs["north"],
        card_number="N1",
        last_name="Okafor",
        email="ada@example.org",
        contact=ada,
    )
    south = Patron.objects.create(
        library=libs["south"],
        card_number="S1",
        last_name="Okafor",
        email="Ada@example.org",
        contact=ada,
    )
    return {"contact": ada, "north": north, "south": south}


@pytest.fixture
def office(libs):
    from allauth.mfa.models import Authenticator

    user = factories.member(libs["root"], CONSORTIUM_ADMIN, email="office@example.org")
    Authenticator.objects.create(user=user, type="totp", data={"secret": "x"})
    return user


def test_own_library_people_see_their_patrons_only(client, people, libs, directory):
    for who in ("comms", "director"):
        client.force_login(people[who])
        response = client.get("/patron-notices/libraries/north/patrons/")
        assert response.status_code == 200 and b"N1" in response.content
        assert client.get("/patron-notices/libraries/south/patrons/").status_code == 403
        assert client.get("/patron-notices/libraries/south/import/").status_code == 403
    client.force_login(people["staff"])
    assert client.get("/patron-notices/libraries/north/patrons/").status_code == 403
    assert client.get("/patron-notices/libraries/north/import/").status_code == 403
    assert not AuditEntry.objects.filter(action="patron_notices.records_viewed").exists()


def test_import_jobs_are_the_library_s_own(
    client, people, libs, django_capture_on_commit_callbacks
):
    from .conftest import KOHA_HEADER, koha_row, run_import

    job = run_import(
        people["comms"],
        libs["north"],
        f"{KOHA_HEADER}\n{koha_row(1, 'X1', 'A', 'B', 'bad')}\n".encode(),
        capture=django_capture_on_commit_callbacks,
    )
    client.force_login(people["south_comms"])
    assert client.get(f"/patron-notices/imports/{job.pk}/").status_code == 403
    assert client.get(f"/patron-notices/imports/{job.pk}/problems.csv").status_code == 403
    client.force_login(people["comms"])
    csv_text = client.get(f"/patron-notices/imports/{job.pk}/problems.csv").content.decode()
    assert csv_text.splitlines()[1].startswith("2,email,")
    status = client.get(f"/patron-notices/imports/{job.pk}/status.json").json()
    assert status["status"] == "done" and status["rows_invalid"] == 1


def test_office_sees_counts_and_records_only_with_an_audited_grant(client, libs, directory, office):
    client.force_login(office)
    overview = client.get("/patron-notices/")
    assert overview.status_code == 200
    html = overview.content.decode()
    assert 'data-library="north"' in html and "Okafor" not in html
    assert client.get("/patron-notices/libraries/north/patrons/").status_code == 403
    # An explicit, one-off grant for one library: every view is audited, without contents.
    MemberLibraryUserObjectPermission.objects.create(
        user=office,
        content_object=libs["north"],
        from_role=False,
        permission=Permission.objects.get(codename="patron_notices.view_patron_records"),
    )
    for _ in range(2):
        response = client.get("/patron-notices/libraries/north/patrons/")
        assert response.status_code == 200 and b"N1" in response.content
    entries = AuditEntry.objects.filter(action="patron_notices.records_viewed")
    assert entries.count() == 2
    assert all(e.library_id == libs["north"].pk for e in entries)
    assert "Okafor" not in str(list(entries.values_list("data", flat=True)))
    assert client.get("/patron-notices/libraries/south/patrons/").status_code == 403


def test_signed_link_changes_preferences_with_timestamps(client, libs, directory):
    token = services.preference_token(directory["contact"])
    url = f"/patron-notices/preferences/{token}/"
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"kinds": ["events"], "language": "fr", "unsubscribe": [str(libs["south"].pk)]}
    )
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert contact.notice_kinds == ["events"] and contact.language == "fr"
    assert Patron.objects.get(card_number="S1").suppression == "unsubscribed"
    assert Patron.objects.get(card_number="N1").suppression == ""
    assert Patron.objects.get(card_number="N1").preferred_language == "fr"
    fields = sorted(PreferenceChange.objects.values_list("field", flat=True))
    assert fields == ["language", "notice_kinds", "unsubscribed"]
    assert all(c.changed_at <= timezone.now() for c in PreferenceChange.objects.all())
    client.post(
        url,
        {
            "kinds": ["events"],
            "language": "fr",
            "unsubscribe_all": "on",
            "unsubscribe": [str(libs["south"].pk)],
        },
    )
    assert Contact.objects.get().unsubscribed_all_at is not None
    assert PreferenceChange.objects.count() == 4


def test_tampered_and_expired_links_are_refused(client, directory, settings):
    token = services.preference_token(directory["contact"])
    other = Contact.objects.create(email="eve@example.org")
    forged = signing.dumps({"c": other.pk}, salt="another purpose", compress=True)
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged, "nonsense"):
        response = client.get(f"/patron-notices/preferences/{bad}/")
        assert response.status_code == 403
    settings.PATRON_PREFERENCE_LINK_MAX_AGE = -1
    response = client.get(f"/patron-notices/preferences/{token}/")
    assert response.status_code == 403 and b"expired" in response.content
    response = client.post(f"/patron-notices/preferences/{token}/", {"language": "es"})
    assert response.status_code == 403
    assert Contact.objects.get(pk=directory["contact"].pk).language == ""


def test_purge_removes_patrons_expired_beyond_retention(libs, directory, settings):
    from datetime import timedelta

    settings.PATRON_EXPIRED_RETENTION_DAYS = 30
    now = timezone.now()
    Patron.objects.filter(card_number="N1").update(expired_at=now - timedelta(days=31))
    Patron.objects.filter(card_number="S1").update(expired_at=now - timedelta(days=29))
    assert services.do_purge_expired(now) == 1
    assert list(Patron.objects.values_list("card_number", flat=True)) == ["S1"]
    Patron.objects.filter(card_number="S1").update(expired_at=now - timedelta(days=40))
    services.do_purge_expired(now)
    assert not Contact.objects.exists()  # no card left: the contact goes too
