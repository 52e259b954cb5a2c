"""Re-certification: a new cycle opens before a certificate of a re-certified course
expires (periodic)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from portal.audit import services as audit

from ..models import Certificate, Enrolment

# Re-certification opens the new cycle this long before the old certificate expires.
RECERTIFY_LEAD = timedelta(days=30)


def do_recertify(now: datetime | None = None) -> list[Enrolment]:
    """Open the next cycle for every certificate of a re-certified course that expires
    within ``RECERTIFY_LEAD``. Idempotent: a cycle is opened only from the current one."""
    now = now or timezone.now()
    opened = []
    due_certificates = Certificate.objects.filter(
        revoked_at__isnull=True,
        expires_at__isnull=False,
        expires_at__lte=now + RECERTIFY_LEAD,
        completion__enrolment__current=True,
        course__recertify_months__isnull=False,
    ).select_related("completion__enrolment", "course", "library")
    for certificate in due_certificates:
        with transaction.atomic():
            old = (
                Enrolment.objects.select_for_update(skip_locked=True)
                .filter(pk=certificate.completion.enrolment_id, current=True)
                .first()
            )
            if old is None:
                continue
            old.current = False
            old.save(update_fields=["current"])
            new = Enrolment.objects.create(
                user_id=old.user_id,
                course_id=old.course_id,
                library_id=old.library_id,
                assignment_id=old.assignment_id,
                assigned_by_id=old.assigned_by_id,
                cycle=old.cycle + 1,
                due=timezone.localdate(certificate.expires_at),
            )
            audit.record_on_commit(
                "training.recertification_assigned",
                library=certificate.library,
                obj=new,
                data={"previous_certificate": certificate.code, "due": new.due},
            )
            opened.append(new)
    return opened
