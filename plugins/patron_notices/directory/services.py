"""Writes for the patron directory: imports, self-service preferences, retention."""

from __future__ import annotations

from datetime import timedelta

from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import access
from portal.audit.services import record, record_on_commit
from portal.background import enqueue

from ..conf import conf
from . import locks, orm_writer, presets, staging, uploads
from .models import NOTICE_KINDS, Contact, ImportJob, Patron, PreferenceChange
from .rows import Problem, storable
from .selectors import IMPORT, may_see_records

RUN_IMPORT = "patron_notices.run_import"

# -- imports -------------------------------------------------------------------------------


def check_start_import(user, library, upload) -> list[str]:
    """Access, then the file itself (size, text, header): its header, or ValidationError
    saying what is wrong. Nothing is saved before this passes."""
    if not access.can(user, IMPORT, library):
        raise PermissionDenied
    if upload is None or upload.size == 0:
        raise ValidationError(_("Choose a CSV file."))
    try:
        return uploads.check_upload(upload)
    except uploads.UploadRefused as exc:
        raise ValidationError(str(exc)) from None


def do_upload_import(
    user, library, upload, preset: str, header: list[str] | None = None
) -> tuple[ImportJob, list[str]]:
    """Keep the checked file, with the preset's mapping of its header, for the mapping step."""
    if header is None:
        header = uploads.check_upload(upload)
    job = ImportJob.objects.create(
        library=library,
        created_by=user,
        file=upload,
        preset=preset,
        size=upload.size,
        mapping=presets.mapping_for(preset, header),
    )
    return job, header


def do_refuse_import(job: ImportJob, reason: str = "") -> ImportJob:
    """Close a job whose file cannot be imported, with the reason in words."""
    job.status, job.phase = ImportJob.Status.REJECTED, ImportJob.Phase.DONE
    job.error = reason or _("The uploaded file can no longer be read; upload it again.")
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "phase", "error", "finished_at"])
    return job


def check_run_import(user, job: ImportJob, mapping: dict[str, str]) -> None:
    if not access.can(user, IMPORT, job.library):
        raise PermissionDenied
    if job.status != ImportJob.Status.MAPPING:
        raise ValidationError(_("This import has already started."))
    if not mapping.get("card_number"):
        raise ValidationError(_("Choose the column that holds the card number."))


def do_run_import(user, job: ImportJob, mapping, mode: str, full_sync: bool) -> None:
    job.mapping = {k: v for k, v in mapping.items() if v}
    job.mode = mode
    job.full_sync = full_sync
    job.status = ImportJob.Status.QUEUED
    job.save(update_fields=["mapping", "mode", "full_sync", "status"])
    record_on_commit(
        "patron_notices.import_started",
        actor=user,
        library=job.library,
        obj=job,
        data={"mode": mode, "full_sync": full_sync},
    )
    job_id = job.pk
    # By name: tasks.py calls these services, so they do not import it.
    transaction.on_commit(lambda: enqueue(RUN_IMPORT, job_id))


# -- sync from a member's ILS (the integration API) -----------------------------------------

BATCH_LIMIT = 1000
# A full sync names every card the library keeps, in one request (the request size limit
# is the real bound); larger directories sync by a CSV import with "full sync".
FULL_SYNC_LIMIT = 200_000


class BatchRefused(Exception):
    """Nothing was written; ``problems`` name the index and field of each refusal."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


def _sync_audit(token, action: str, **counts) -> None:
    # Counts and the token's public prefix only: never a card number, name or address.
    # Written in the caller's transaction: it stands or falls with the change it records.
    record(action, library=token.library, data={"token": token.prefix, **counts})


def check_patron_batch(token, records: list[dict]) -> list[tuple]:
    """Validate a batch by the CSV import's rules; raises BatchRefused naming index and
    field of every problem (the refusal is audited with its counts)."""
    if len(records) > BATCH_LIMIT:
        problems = [
            Problem(
                BATCH_LIMIT,
                "",
                "batch_too_large",
                _("At most %(n)d patrons per batch.") % {"n": BATCH_LIMIT},
            )
        ]
    else:
        staged, problems = staging.stage_records(token.library, records)
    if problems:
        _sync_audit(
            token,
            "patron_notices.api_batch_refused",
            received=len(records),
            problems=len(problems),
        )
        raise BatchRefused(problems)
    return staged


@transaction.atomic
def do_patron_batch(token, staged: list[tuple]) -> orm_writer.Written:
    """Create or update the batch's patrons in the token's library, all or nothing."""
    locks.lock_library_patrons(token.library_id)
    locks.hold_references(token.library_id, (r[8] for r in staged if r[8]))
    written = orm_writer.upsert_staged(token.library_id, staged, f"api {token.prefix}")
    _sync_audit(
        token,
        "patron_notices.api_batch",
        received=len(staged),
        created=written.created,
        updated=written.updated,
        unchanged=written.unchanged,
    )
    return written


def check_expire_patrons(token, card_numbers: list[str], full_sync: bool) -> list[str]:
    limit = FULL_SYNC_LIMIT if full_sync else BATCH_LIMIT
    cards = [str(c).strip() for c in card_numbers]
    if not cards:
        # A full sync with nothing kept would expire the whole directory: an ILS export
        # gone wrong, not a library without patrons.
        raise ValidationError(_("Give at least one card number."))
    if len(cards) > limit:
        raise ValidationError(_("At most %(n)d card numbers per call.") % {"n": limit})
    if any(not c or len(c) > 32 or not storable(c) for c in cards):
        raise ValidationError(_("Every card number has 1 to 32 characters."))
    return cards


@transaction.atomic
def do_expire_patrons(token, cards: list[str], full_sync: bool) -> int:
    """Expire the named cards, or with ``full_sync`` every card not named; the purge deletes
    them after the retention period. Returns how many were expired now."""
    locks.lock_library_patrons(token.library_id)
    now = timezone.now()
    patrons = Patron.objects.filter(library_id=token.library_id, expired_at__isnull=True)
    if full_sync:
        if connection.vendor == "postgresql":
            table = Patron._meta.db_table
            with connection.cursor() as cursor:
                # One array parameter, whatever the number of cards kept.
                cursor.execute(
                    f"UPDATE {table} SET expired_at = %s, updated_at = %s"  # noqa: S608
                    " WHERE library_id = %s AND expired_at IS NULL"
                    " AND NOT (card_number = ANY(%s))",
                    [now, now, token.library_id, cards],
                )
                expired = cursor.rowcount
        else:
            keep = set(cards)
            gone = [
                pk
                for pk, card in patrons.values_list("pk", "card_number").iterator(2000)
                if card not in keep
            ]
            expired = 0
            for start in range(0, len(gone), 500):
                expired += Patron.objects.filter(pk__in=gone[start : start + 500]).update(
                    expired_at=now, updated_at=now
                )
    else:
        expired = patrons.filter(card_number__in=cards).update(expired_at=now, updated_at=now)
    _sync_audit(
        token,
        "patron_notices.api_expire",
        full_sync=full_sync,
        named=len(cards),
        expired=expired,
    )
    return expired


# -- viewing ---------------------------------------------------------------------------------


def check_view_patrons(user, library) -> bool:
    """Raises unless ``user`` may see individual records; True when the view is audited."""
    allowed, audited = may_see_records(user, library)
    if not allowed:
        raise PermissionDenied
    return audited


def record_patron_view(user, library, what: str, patron: Patron | None = None) -> None:
    # The audit names the record, never its contents.
    record(
        "patron_notices.records_viewed",
        actor=user,
        library=library,
        obj=patron,
        data={"what": what},
    )


# -- self-service ----------------------------------------------------------------------------

SALT = "patron_notices.preferences"


def preference_token(contact: Contact) -> str:
    return signing.dumps({"c": contact.pk}, salt=SALT, compress=True)


def contact_from_token(token: str) -> Contact:
    """The contact a signed link names; refuses tampered and expired links."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings_max_age())
    except signing.SignatureExpired as exc:
        raise PermissionDenied(_("This link has expired.")) from exc
    except signing.BadSignature as exc:
        raise PermissionDenied(_("This link is not valid.")) from exc
    contact = Contact.objects.filter(pk=data.get("c")).first()
    if contact is None:
        raise PermissionDenied(_("This link is not valid."))
    return contact


def settings_max_age() -> int:
    return conf().preference_link_max_age


def _change(contact, field, old, new, patron=None) -> PreferenceChange | None:
    if str(old) == str(new):
        return None
    return PreferenceChange(
        contact=contact,
        patron=patron,
        field=field,
        old_value=str(old)[:200],
        new_value=str(new)[:200],
    )


@transaction.atomic
def do_update_patron_preferences(
    contact: Contact,
    *,
    kinds: list[str],
    language: str,
    unsubscribe_libraries: list[int],
    unsubscribe_all: bool,
) -> list[PreferenceChange]:
    """Apply the self-service form; every change is recorded with its time."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    now = timezone.now()
    valid = {k for k, _label in NOTICE_KINDS}
    kinds = sorted(k for k in kinds if k in valid)
    changes = [
        _change(contact, "notice_kinds", ",".join(sorted(contact.notice_kinds)), ",".join(kinds)),
        _change(contact, "language", contact.language, language),
    ]
    contact.notice_kinds, contact.language = kinds, language
    if unsubscribe_all and contact.unsubscribed_all_at is None:
        contact.unsubscribed_all_at = now
        changes.append(_change(contact, "unsubscribed_all", "", now.isoformat()))
    elif not unsubscribe_all and contact.unsubscribed_all_at is not None:
        changes.append(_change(contact, "unsubscribed_all", contact.unsubscribed_all_at, ""))
        contact.unsubscribed_all_at = None
    contact.save()
    patrons = list(contact.patrons.filter(expired_at__isnull=True))
    for patron in patrons:
        wants_off = patron.library_id in unsubscribe_libraries
        is_off = patron.suppression == Patron.Suppression.UNSUBSCRIBED
        if wants_off and not patron.suppression:
            changes.append(_change(contact, "unsubscribed", "", patron.library_id, patron))
            patron.suppression, patron.suppressed_at = Patron.Suppression.UNSUBSCRIBED, now
        elif is_off and not wants_off:
            changes.append(_change(contact, "unsubscribed", patron.library_id, "", patron))
            patron.suppression, patron.suppressed_at = "", None
        if language and patron.preferred_language != language:
            patron.preferred_language = language
        patron.updated_at = now
    Patron.objects.bulk_update(
        patrons, ["suppression", "suppressed_at", "preferred_language", "updated_at"]
    )
    changes = [c for c in changes if c is not None]
    for c in changes:
        c.changed_at = now
    PreferenceChange.objects.bulk_create(changes)
    return changes


# -- retention -------------------------------------------------------------------------------


def retention_days() -> int:
    return conf().expired_retention_days


def do_purge_expired(now=None) -> int:
    """Delete patrons expired longer ago than the retention setting, and orphaned contacts."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=retention_days())
    deleted, _detail = Patron.objects.filter(expired_at__lt=cutoff).delete()
    with transaction.atomic():
        # An import may be linking patrons to a contact that looks orphaned until it commits.
        locks.hold_contacts_exclusively()
        Contact.objects.filter(patrons__isnull=True).delete()
    # Uploaded files and their problem lists hold personal data too.
    for job in ImportJob.objects.filter(finished_at__lt=cutoff).exclude(file=""):
        job.file.delete(save=False)
        job.problems.all().delete()
        ImportJob.objects.filter(pk=job.pk).update(file="")
    return deleted
