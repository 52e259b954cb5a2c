"""The chain becomes keyed (HMAC over every stored field, see portal/audit/chain.py).

Entries already written keep their plain SHA-256 hashes and are marked version 1: they are
checked as before. One keyed entry is then appended that links to the last of them, so
from here on rewriting the legacy part breaks a keyed link. A person's deletion no longer
clears the actor of their entries (the actor's id is hashed now).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def seal_legacy(apps, schema_editor):
    from portal.audit import chain

    Entry = apps.get_model("audit", "AuditEntry")
    last = Entry.objects.order_by("-pk").first()
    if last is None:
        return
    legacy = Entry.objects.count()
    entry = Entry(
        id=last.pk + 1,
        created_at=timezone.now(),
        actor_label="",
        action="audit.chain_keyed",
        object_type="",
        object_id="",
        data={"legacy_entries": legacy, "legacy_head": last.hash},
        version=chain.KEYED,
        prev_hash=last.hash,
    )
    fields = chain.stored_fields(
        id=entry.id,
        created_at=entry.created_at,
        actor_id=None,
        actor_label="",
        action=entry.action,
        library_id=None,
        object_type="",
        object_id="",
        data=entry.data,
        version=chain.KEYED,
    )
    entry.hash = chain.keyed_hash(entry.prev_hash, fields)
    entry.save(force_insert=True)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_library_survives_deletion"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="version",
            field=models.PositiveSmallIntegerField(default=1),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="version",
            field=models.PositiveSmallIntegerField(default=2),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(seal_legacy, migrations.RunPython.noop),
    ]
