"""Who a notice reaches: deduplicated by contact, minus everyone who said no."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from plugins.patron_notices.models import Delivery, LibraryParticipation, Notice
from plugins.patron_notices.notices import planning
from plugins.patron_notices.notices import services as notices
from portal.members.models import LibraryPluginSwitch
from portal.members.roles import CONSORTIUM_ADMIN
from tests import factories

from .engine_support import notice, patron

pytestmark = pytest.mark.django_db


@pytest.fixture
def office(libs):
    from allauth.mfa.models import Authenticator

    people = []
    for who in ("writer", "approver"):
        user = factories.member(libs["root"], CONSORTIUM_ADMIN, email=f"{who}@example.org")
        Authenticator.objects.create(user=user, type="totp", data={"secret": "x"})
        people.append(user)
    return people


def planned(n: Notice) -> dict[str, tuple[int, str]]:
    planning.do_plan(n)
    return {
        d.contact.email: (d.library_id, d.language)
        for d in Delivery.objects.filter(notice=n).select_related("contact")
    }


def test_one_message_per_person_from_the_library_used_most_recently(libs):
    now = timezone.now()
    patron(libs["main"], "M1", "ada@example.org", last_used_at=now - timedelta(days=9))
    patron(libs["east"], "E1", "Ada@example.org", last_used_at=now - timedelta(days=1))
    patron(libs["south"], "S1", "ada@example.org")  # never used: not the brand
    patron(libs["south"], "S2", "bo@example.org", language="fr")
    n = notice()
    assert planning.count_recipients(n) == 2
    result = planned(n)
    assert result == {
        "ada@example.org": (libs["east"].pk, "en"),
        "bo@example.org": (libs["south"].pk, "fr"),
    }
    # Planning again adds nobody twice.
    planning.do_plan(n)
    assert Delivery.objects.filter(notice=n).count() == 2
    assert Notice.objects.get(pk=n.pk).planned_count == 2


def test_without_use_the_oldest_card_brands_the_message(libs):
    patron(libs["south"], "S1", "cy@example.org", created_at=timezone.now() - timedelta(days=400))
    patron(libs["main"], "M1", "cy@example.org")
    assert planned(notice()) == {"cy@example.org": (libs["south"].pk, "en")}


def test_a_language_without_a_version_gets_the_first(libs):
    patron(libs["main"], "M1", "de@example.org", language="es")
    assert planned(notice()) == {"de@example.org": (libs["main"].pk, "en")}


def test_unsubscribed_suppressed_and_non_consenting_are_left_out(libs):
    patron(libs["main"], "OK", "ok@example.org")
    patron(libs["main"], "NC", "nc@example.org", consent_given_at=None)
    patron(libs["main"], "BO", "bo@example.org", suppression="bounced")
    gone = patron(libs["main"], "ALL", "all@example.org")
    gone.contact.unsubscribed_all_at = timezone.now()
    gone.contact.save()
    picky = patron(libs["main"], "K", "picky@example.org")
    picky.contact.notice_kinds = ["services"]
    picky.contact.save()
    # Suppressed at one library only: the other library still writes, branded as itself.
    patron(libs["main"], "U1", "two@example.org", suppression="unsubscribed")
    patron(libs["south"], "U2", "two@example.org")
    patron(libs["main"], "EX", "ex@example.org", expired_at=timezone.now())

    general = planned(notice())
    assert set(general) == {"ok@example.org", "two@example.org"}
    assert general["two@example.org"][0] == libs["south"].pk
    service = planned(notice(category="service"))
    assert set(service) == {"ok@example.org", "two@example.org", "picky@example.org"}


def test_audience_by_system_category_language_and_branch(libs):
    patron(libs["main"], "M1", "m@example.org", category="ADULT", home_branch=libs["main"])
    patron(libs["east"], "E1", "e@example.org", category="CHILD", language="fr")
    patron(libs["south"], "S1", "s@example.org", category="ADULT")

    by_system = notice()
    by_system.libraries.set([libs["north"]])  # a system takes its branches
    assert set(planned(by_system)) == {"m@example.org", "e@example.org"}

    adults = notice(patron_categories=["ADULT"])
    assert set(planned(adults)) == {"m@example.org", "s@example.org"}

    french = notice(languages=["fr"])
    assert set(planned(french)) == {"e@example.org"}

    branch = notice()
    branch.branches.set([libs["main"]])
    assert set(planned(branch)) == {"m@example.org"}


def test_libraries_that_switched_off_or_opted_out_are_left_out(libs):
    patron(libs["main"], "M1", "m@example.org")
    patron(libs["east"], "E1", "e@example.org")
    patron(libs["south"], "S1", "s@example.org")
    LibraryPluginSwitch.objects.create(library=libs["south"], plugin="patron_notices")
    n = notice()
    LibraryParticipation.objects.create(
        notice=n, library=libs["east"], decision=LibraryParticipation.Decision.OPTED_OUT
    )
    assert set(planned(n)) == {"m@example.org"}


def test_a_second_person_approves(libs, office):
    writer, approver = office
    n = notice(author=writer)
    with transaction.atomic(), pytest.raises(ValidationError):
        notices.check_approve_notice(writer, n)
    with transaction.atomic():
        n = notices.check_approve_notice(approver, n)
        notices.do_approve_notice(approver, n)
    assert Notice.objects.get(pk=n.pk).approved_by == approver
    # The database refuses it too, whatever the code path.
    with pytest.raises(IntegrityError), transaction.atomic():
        Notice.objects.filter(pk=n.pk).update(approved_by=writer)


def test_library_takes_part_before_the_deadline(libs, people, office):
    n = notice(author=office[0], participation_deadline=timezone.now() + timedelta(days=1))
    comms = people["comms"]
    # Libraries decide on what the office approved, not on a draft.
    with pytest.raises(ValidationError), transaction.atomic():
        notices.check_participate(comms, n, libs["north"])
    Notice.objects.filter(pk=n.pk).update(state=Notice.State.APPROVED)
    with transaction.atomic():
        n = notices.check_participate(comms, n, libs["north"])
        notices.do_participate(comms, n, libs["north"], "approved", "Open 9-5 on Saturdays.")
    with pytest.raises(Exception) as refused, transaction.atomic():
        notices.check_participate(comms, n, libs["south"])
    assert type(refused.value).__name__ == "PermissionDenied"
    Notice.objects.filter(pk=n.pk).update(participation_deadline=timezone.now() - timedelta(1))
    with pytest.raises(ValidationError), transaction.atomic():
        notices.check_participate(comms, n, libs["north"])
    assert LibraryParticipation.objects.get(notice=n).local_paragraph == "Open 9-5 on Saturdays."


def test_a_large_plan_refreshes_the_delivery_statistics_before_workers_start(libs, monkeypatch):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("statistics are PostgreSQL's")

    def estimated_rows() -> float:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
                [Delivery._meta.db_table],
            )
            return cursor.fetchone()[0]

    for i in range(3):
        patron(libs["main"], f"M{i}", f"p{i}@example.org")
    monkeypatch.setattr(planning, "ANALYZE_FROM", 4)
    planning.do_plan(notice())
    assert estimated_rows() != 3  # below the threshold: left to autovacuum
    monkeypatch.setattr(planning, "ANALYZE_FROM", 3)
    planning.do_plan(notice(title="Second"))
    assert estimated_rows() == 6
