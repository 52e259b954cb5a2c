"""The four tamperings of the audit chain, each detected and named by ``verify_audit``:
an entry edited (any stored field, the actor's id included), an entry deleted inside the
chain, the newest entries deleted, and the chain rewritten with its hashes recomputed.
Also: entries from before the key still verify, and checkpoints cannot be forged."""

import hashlib
import json

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection

from portal.audit import anchor, chain
from portal.audit.models import AuditEntry
from portal.audit.services import (
    DELETED,
    EDITED,
    FORGED,
    RECHAINED,
    TRUNCATED,
    record,
    verify_chain,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def checkpoints(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "audit" / "checkpoints.jsonl")
    return tmp_path / "audit" / "checkpoints.jsonl"


def entries(n=5):
    root = factories.consortium()
    library = factories.library(root)
    actor = factories.person("clerk@example.org")
    return [
        record("test.event", actor=actor, library=library, obj=actor, data={"n": i})
        for i in range(n)
    ]


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def broken(kind, call=True) -> str:
    report = verify_chain()
    assert kind in report.kinds(), report.problems
    if call:
        with pytest.raises(CommandError, match=kind) as raised:
            call_command("verify_audit")
        return str(raised.value)
    return report.reason


# -- 1. an entry edited -----------------------------------------------------------------------


def test_changing_an_entrys_actor_id_is_detected():
    made = entries(4)
    other = factories.person("someone-else@example.org")
    sql("UPDATE audit_auditentry SET actor_id = %s WHERE id = %s", [other.pk, made[1].pk])
    message = broken(EDITED)
    assert f"#{made[1].pk}" in message and "content does not match" in message


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("created_at", "'2020-01-01 00:00:00+00'"),
        ("actor_label", "'someone@example.org'"),
        ("action", "'test.forged'"),
        ("library_id", "NULL"),
        ("object_type", "'x.y'"),
        ("object_id", "'999'"),
        ("data", """'{"n": 99}'"""),
        ("version", "1"),
    ],
)
def test_every_stored_field_is_covered(column, value):
    made = entries(3)
    sql(f"UPDATE audit_auditentry SET {column} = {value} WHERE id = %s", [made[1].pk])  # noqa: S608
    assert verify_chain().broken_at == made[1].pk
    assert EDITED in verify_chain().kinds()


def test_renumbering_an_entry_is_detected():
    made = entries(3)
    sql("UPDATE audit_auditentry SET id = 1000 WHERE id = %s", [made[2].pk])
    assert EDITED in verify_chain().kinds()


# -- 2. an entry deleted inside the chain --------------------------------------------------------


def test_deleting_an_entry_inside_the_chain_is_detected():
    made = entries(4)
    sql("DELETE FROM audit_auditentry WHERE id = %s", [made[1].pk])
    message = broken(DELETED)
    assert f"#{made[2].pk}" in message and "link" in message


# -- 3. the newest entries deleted -----------------------------------------------------------------


def test_deleting_the_newest_entries_is_detected_by_the_checkpoint(checkpoints):
    made = entries(5)
    call_command("audit_checkpoint")
    assert verify_chain().intact
    sql("DELETE FROM audit_auditentry WHERE id >= %s", [made[3].pk])
    # Nothing inside the database shows it: the remaining links all hold.
    assert verify_chain(checkpoints=[]).intact
    message = broken(TRUNCATED)
    assert f"#{made[4].pk}" in message and "newest entries were deleted" in message


def test_deleting_the_newest_entries_is_detected_against_a_mailed_head():
    made = entries(4)
    head = f"{made[3].pk}:{made[3].hash}:4"
    call_command("verify_audit", "--head", head)
    sql("DELETE FROM audit_auditentry WHERE id = %s", [made[3].pk])
    with pytest.raises(CommandError, match=TRUNCATED):
        call_command("verify_audit", "--head", head)


def test_deleting_the_newest_and_adding_new_ones_is_still_caught(checkpoints):
    made = entries(4)
    anchor.write()
    sql("DELETE FROM audit_auditentry WHERE id >= %s", [made[2].pk])
    record("test.after")  # takes the id of a deleted entry, with another hash
    record("test.after")
    assert RECHAINED in verify_chain().kinds()


# -- 4. the chain rewritten ------------------------------------------------------------------------


def rechain(start_id, secret=None, version=chain.KEYED):
    """Rewrite every entry from ``start_id`` on with recomputed hashes, as a forger would."""
    previous = AuditEntry.objects.filter(pk__lt=start_id).order_by("-pk").first()
    prev_hash = previous.hash if previous else chain.GENESIS
    for entry in AuditEntry.objects.filter(pk__gte=start_id).order_by("pk"):
        entry.prev_hash = prev_hash
        entry.version = version
        fields = entry.stored_fields()
        if secret is None:  # plain SHA-256, what the chain used to be
            new = hashlib.sha256((prev_hash + json.dumps(fields, sort_keys=True)).encode())
            new = new.hexdigest()
        else:
            new = chain.keyed_hash(prev_hash, fields, secret)
        sql(
            "UPDATE audit_auditentry SET prev_hash = %s, hash = %s, version = %s WHERE id = %s",
            [prev_hash, new, version, entry.pk],
        )
        prev_hash = new


@pytest.mark.parametrize("secret", [None, b"a guessed key"])
def test_rechaining_without_the_key_is_detected(secret):
    made = entries(5)
    sql("UPDATE audit_auditentry SET action = 'test.forged' WHERE id = %s", [made[2].pk])
    rechain(made[2].pk, secret)
    message = broken(EDITED)
    assert f"#{made[2].pk}" in message


def test_rechaining_as_legacy_entries_is_detected():
    made = entries(4)
    sql("UPDATE audit_auditentry SET action = 'test.forged' WHERE id = %s", [made[2].pk])
    # The old unkeyed formula for the forged entry and the rest: they follow keyed ones.
    previous = made[1].hash
    for entry in AuditEntry.objects.filter(pk__gte=made[2].pk).order_by("pk"):
        new = chain.legacy_hash(previous, {**entry.stored_fields(), "version": 1})
        sql(
            "UPDATE audit_auditentry SET prev_hash = %s, hash = %s, version = 1 WHERE id = %s",
            [previous, new, entry.pk],
        )
        previous = new
    assert "an unkeyed entry after keyed ones" in broken(EDITED, call=False)


def test_rechaining_with_the_key_is_detected_by_the_checkpoint(checkpoints):
    made = entries(5)
    anchor.write()
    sql("UPDATE audit_auditentry SET action = 'test.forged' WHERE id = %s", [made[1].pk])
    rechain(made[1].pk, chain.key())
    assert verify_chain(checkpoints=[]).intact  # consistent inside the database...
    message = broken(RECHAINED)  # ...but not with what was written outside it
    assert f"#{made[4].pk}" in message and "rewritten" in message


# -- the key and the checkpoints -------------------------------------------------------------------


def test_the_key_comes_from_settings_not_the_database(settings):
    made = entries(2)
    assert verify_chain().intact
    settings.AUDIT_CHAIN_KEY = "another key entirely"
    assert verify_chain().broken_at == made[0].pk


def test_a_forged_checkpoint_line_is_named(checkpoints):
    entries(2)
    anchor.write()
    line = json.loads(checkpoints.read_text().splitlines()[-1])
    line.update(id=1, hash="0" * 64, count=1)
    with checkpoints.open("a") as out:
        out.write(json.dumps(line) + "\n")
    assert FORGED in verify_chain().kinds()


def test_checkpoints_are_written_when_the_head_moves_and_mailed_daily(checkpoints, settings):
    from portal.signals import periodic

    receivers = periodic._live_receivers(None)
    receivers = receivers[0] if isinstance(receivers, tuple) else receivers
    assert anchor.on_periodic in receivers  # beat's fan-out writes them
    settings.AUDIT_CHECKPOINT_EMAILS = ["office@example.org"]
    entries(2)
    anchor.on_periodic(sender=None)
    anchor.on_periodic(sender=None)  # the head did not move: no second line or mail
    assert len(anchor.read()) == 1 and len(mail.outbox) == 1
    assert "verify_audit --head" in mail.outbox[0].body
    record("test.more")
    anchor.on_periodic(sender=None)
    assert len(anchor.read()) == 2 and len(mail.outbox) == 1  # mailed once a day
    assert anchor.read()[-1].id == AuditEntry.objects.latest("pk").pk
    assert all(point.genuine for point in anchor.read())


def test_verify_audit_describes_the_anchor(checkpoints, capsys):
    entries(2)
    call_command("audit_checkpoint")
    call_command("verify_audit", verbosity=2)
    out = capsys.readouterr().out
    assert "2 keyed entries (HMAC-SHA256), 0 from before the key." in out
    assert "1 checkpoints" in out
    assert out.rstrip().endswith("Audit chain intact: 2 entries.")


# -- entries from before the key -------------------------------------------------------------------


def legacy_entries(n):
    """Entries as the unkeyed chain wrote them."""
    from django.utils import timezone

    previous = chain.GENESIS
    for i in range(1, n + 1):
        fields = chain.stored_fields(
            id=i, created_at=timezone.now(), actor_id=None, actor_label="old@example.org",
            action="old.event", library_id=None, object_type="", object_id="",
            data={"n": i}, version=chain.LEGACY,
        )  # fmt: skip
        digest = chain.legacy_hash(previous, fields)
        AuditEntry(
            id=i, created_at=fields["created_at"], actor_label="old@example.org",
            action="old.event", data={"n": i}, version=chain.LEGACY, prev_hash=previous,
            hash=digest,
        ).save()  # fmt: skip
        previous = digest


def test_entries_from_before_the_key_still_verify_and_the_migration_anchors_them():
    from django.apps import apps
    from django.utils.module_loading import import_string

    legacy_entries(3)
    seal = import_string("portal.audit.migrations.0003_keyed_chain.seal_legacy")
    seal(apps, None)
    record("test.new")
    report = verify_chain()
    assert report.intact and (report.entries, report.legacy) == (5, 3)
    sealed = AuditEntry.objects.get(action="audit.chain_keyed")
    assert sealed.data["legacy_entries"] == 3 and sealed.prev_hash == sealed.data["legacy_head"]
    # Rewriting the legacy part, even with the legacy formula, breaks the keyed link.
    sql("UPDATE audit_auditentry SET action = 'old.forged' WHERE id = 2")
    previous = AuditEntry.objects.get(pk=1).hash
    for entry in AuditEntry.objects.filter(pk__in=[2, 3]).order_by("pk"):
        new = chain.legacy_hash(previous, entry.stored_fields())
        sql("UPDATE audit_auditentry SET prev_hash = %s, hash = %s WHERE id = %s",
            [previous, new, entry.pk])  # fmt: skip
        previous = new
    assert verify_chain().broken_at == sealed.pk and DELETED in verify_chain().kinds()
