"""The audit log is append-only and its hash chain names the first tampered entry."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from portal.audit.models import GENESIS, AuditEntry
from portal.audit.services import record, record_on_commit, verify_chain
from tests import factories

pytestmark = pytest.mark.django_db


def entries(n=5, library=None):
    actor = factories.person("clerk@example.org")
    return [
        record("test.event", actor=actor, library=library, obj=actor, data={"n": i})
        for i in range(n)
    ]


def test_entries_chain_by_hash():
    made = entries(3)
    assert made[0].prev_hash == GENESIS
    assert made[1].prev_hash == made[0].hash
    assert made[2].prev_hash == made[1].hash
    assert verify_chain().intact and verify_chain().checked == 3


def test_an_entry_edited_in_the_database_is_named(capsys):
    made = entries(5)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditentry SET data = %s WHERE id = %s", ['{"n": 99}', made[2].pk]
        )
    report = verify_chain()
    assert report.broken_at == made[2].pk
    assert "content does not match" in report.reason
    with pytest.raises(CommandError, match=f"broken at entry #{made[2].pk}"):
        call_command("verify_audit")


def test_a_deleted_entry_breaks_the_next_link():
    made = entries(4)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [made[1].pk])
    report = verify_chain()
    assert report.broken_at == made[2].pk
    assert "link" in report.reason


def test_a_recomputed_hash_still_breaks_the_following_link():
    made = entries(3)
    forged = AuditEntry.objects.get(pk=made[1].pk)
    forged.action = "test.forged"
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditentry SET action = %s, hash = %s WHERE id = %s",
            ["test.forged", forged.compute_hash(), made[1].pk],
        )
    assert verify_chain().broken_at == made[2].pk


def test_entries_cannot_be_changed_or_deleted_through_the_orm():
    entry = entries(1)[0]
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


def test_verify_audit_command_reports_intact(capsys):
    entries(2)
    call_command("verify_audit")
    assert "intact: 2 entries" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_record_on_commit_only_after_commit():
    actor = factories.person()
    try:
        with transaction.atomic():
            record_on_commit("test.rolled_back", actor=actor)
            raise RuntimeError
    except RuntimeError:
        pass
    with transaction.atomic():
        record_on_commit("test.committed", actor=actor)
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["test.committed"]


def test_removing_a_library_or_a_person_leaves_the_chain_intact():
    root = factories.consortium()
    library = factories.library(root)
    made = entries(3, library=library)
    type(made[0].actor).objects.filter(pk=made[0].actor_id).delete()
    library.delete()
    assert verify_chain().intact
    assert AuditEntry.objects.filter(library_id=library.pk).count() == 3
