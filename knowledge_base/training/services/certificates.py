"""Certificates: issued on completion (an earlier one for the course expires), revoked by
those who manage the course."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import access
from portal.audit import services as audit
from portal.dates import add_months

from ..models import Certificate, Completion
from ..rules import MANAGE, TrainingError


def do_issue_certificate(completion: Completion) -> Certificate:
    """Issue the certificate; an earlier one for the same course expires now."""
    course = completion.course
    expires = (
        add_months(completion.completed_at, course.recertify_months)
        if course.recertify_months
        else None
    )
    now = completion.completed_at
    Certificate.objects.filter(
        user_id=completion.user_id, course=course, revoked_at__isnull=True
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).update(expires_at=now)
    user = completion.user
    certificate = Certificate.objects.create(
        completion=completion,
        user=user,
        course=course,
        library=completion.library,
        holder_name=user.full_name or user.email,
        course_title=course.title,
        library_name=completion.library.name,
        issued_at=now,
        expires_at=expires,
    )
    audit.record_on_commit(
        "training.certificate_issued",
        actor=user,
        library=completion.library,
        obj=certificate,
        data={"code": certificate.code, "expires_at": expires},
    )
    return certificate


def check_revoke(actor, certificate: Certificate) -> Certificate:
    if not (access.can(actor, MANAGE, certificate.library) or access.is_consortium_admin(actor)):
        raise PermissionDenied
    if certificate.revoked_at:
        raise TrainingError(_("This certificate is already revoked."))
    return certificate


def do_revoke(actor, certificate: Certificate, reason: str = "") -> Certificate:
    with transaction.atomic():
        certificate = Certificate.objects.select_for_update().get(pk=certificate.pk)
        if certificate.revoked_at is None:
            certificate.revoked_at = timezone.now()
            certificate.revoked_reason = reason[:255]
            certificate.save(update_fields=["revoked_at", "revoked_reason"])
            audit.record_on_commit(
                "training.certificate_revoked",
                actor=actor,
                library=certificate.library,
                obj=certificate,
                data={"code": certificate.code, "reason": reason},
            )
    return certificate
