"""What the policy pages share: the reader check, a live policy and its version by their
citation, a PDF response."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from .. import selectors
from ..models import PolicyPage, PolicyVersion


def require_reader(request) -> None:
    if not selectors.may_read(request.user):
        raise PermissionDenied


def live_policy(code: str) -> PolicyPage:
    # Every page of a policy shows its category in the breadcrumb.
    return get_object_or_404(PolicyPage.objects.live().select_related("category"), code=code)


def policy_version(page: PolicyPage, number: int) -> PolicyVersion:
    return get_object_or_404(PolicyVersion, policy=page, number=number)


def pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
