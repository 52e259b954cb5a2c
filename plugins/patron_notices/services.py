"""Writes for the patron directory: imports, self-service preferences, retention."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import access
from portal.audit.services import record, record_on_commit

from . import imports
from .models import NOTICE_KINDS, Contact, ImportJob, Patron, PreferenceChange
from .selectors import IMPORT, may_see_records

# -- imports -------------------------------------------------------------------------------


def check_start_import(user, library, upload) -> None:
    if not access.can(user, IMPORT, library):
        raise PermissionDenied
    if upload is None or upload.size == 0:
        raise ValidationError(_("Choose a CSV file."))


def do_upload_import(user, library, upload, preset: str) -> tuple[ImportJob, list[str]]:
    """Keep the file and read its header, for the column-mapping step."""
    job = ImportJob.objects.create(
        library=library, created_by=user, file=upload, preset=preset, size=upload.size
    )
    with job.file.open("rb") as stream:
        header = imports.read_header(stream)
    job.mapping = imports.mapping_for(preset, header)
    job.save(update_fields=["mapping"])
    return job, header


def check_run_import(user, job: ImportJob, mapping: dict[str, str]) -> None:
    if not access.can(user, IMPORT, job.library):
        raise PermissionDenied
    if job.status != ImportJob.Status.MAPPING:
        raise ValidationError(_("This import has already started."))
    if not mapping.get("card_number"):
        raise ValidationError(_("Choose the column that holds the card number."))


def do_run_import(user, job: ImportJob, mapping, mode: str, full_sync: bool) -> None:
    from .tasks import run_import

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
    transaction.on_commit(lambda: run_import.delay(job_id))


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
    return int(getattr(settings, "PATRON_PREFERENCE_LINK_MAX_AGE", 60 * 60 * 24 * 90))


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
    return int(getattr(settings, "PATRON_EXPIRED_RETENTION_DAYS", 365))


def do_purge_expired(now=None) -> int:
    """Delete patrons expired longer ago than the retention setting, and orphaned contacts."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=retention_days())
    deleted, _detail = Patron.objects.filter(expired_at__lt=cutoff).delete()
    with transaction.atomic():
        # An import may be linking patrons to a contact that looks orphaned until it commits.
        imports.hold_contacts_exclusively()
        Contact.objects.filter(patrons__isnull=True).delete()
    # Uploaded files and their problem lists hold personal data too.
    for job in ImportJob.objects.filter(finished_at__lt=cutoff).exclude(file=""):
        job.file.delete(save=False)
        job.problems.all().delete()
        ImportJob.objects.filter(pk=job.pk).update(file="")
    return deleted
