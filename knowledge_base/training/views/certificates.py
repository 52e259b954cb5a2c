"""Certificates: the PDF and the Open Badge for their holder, revoking, and the public
verification page."""

from __future__ import annotations

import base64
import json

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal import access
from portal.pdf import render_pdf

from .. import badges
from ..forms import BadgeForm, RevokeCertificateForm
from ..models import Certificate
from ..rules import MANAGE, REPORT, TrainingError
from ..services.certificates import check_revoke, do_revoke


def _certificate_for(request, code: str) -> Certificate:
    certificate = get_object_or_404(
        Certificate.objects.select_related("course", "library", "user"), code=code
    )
    user = request.user
    if certificate.user_id == user.pk or access.can(user, REPORT, certificate.library):
        return certificate
    raise Http404


def qr_data_uri(text: str) -> str:
    """A QR code as an inline SVG data URI: no file, no network."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def certificate_context(certificate: Certificate, base_url: str) -> dict:
    verify_url = base_url.rstrip("/") + reverse("training:verify", args=[certificate.code])
    return {
        "certificate": certificate,
        "verify_url": verify_url,
        "qr": qr_data_uri(verify_url),
    }


def render_certificate(certificate: Certificate, base_url: str) -> bytes:
    return render_pdf("training/pdf/certificate.html", certificate_context(certificate, base_url))


@login_required
def certificate_pdf(request, code: str):
    certificate = _certificate_for(request, code)
    pdf = render_certificate(certificate, request.build_absolute_uri("/"))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="certificate-{certificate.code}.pdf"'
    return response


@login_required
def certificate_badge(request, code: str):
    certificate = _certificate_for(request, code)
    credential = badges.credential(certificate, request.build_absolute_uri("/"))
    response = HttpResponse(
        json.dumps(credential, indent=2, ensure_ascii=False), content_type="application/ld+json"
    )
    response["Content-Disposition"] = f'attachment; filename="badge-{certificate.code}.json"'
    return response


@login_required
@require_POST
def certificate_revoke(request, code: str):
    certificate = get_object_or_404(Certificate, code=code)
    form = RevokeCertificateForm(request.POST)
    try:
        check_revoke(request.user, certificate)
    except TrainingError as exc:
        messages.error(request, str(exc))
    else:
        if form.is_valid():
            do_revoke(request.user, certificate, form.cleaned_data["reason"])
            messages.success(request, _("The certificate was revoked."))
        else:
            messages.error(request, _("Keep the reason under 255 characters."))
    return redirect("training:verify", code=code)


def verify(request, code: str | None = None):
    """Public: is this certificate genuine, expired or revoked? Shows no email address.

    A POST carries a badge file (``badge.json``, signed now or before the switch to
    eddsa-rdfc-2022): its proof is checked, then the certificate it names as for a code.
    """
    badge = None
    if request.method == "POST":
        form = BadgeForm(request.POST, request.FILES)
        badge = badges.check_badge(form.raw() if form.is_valid() else "")
        code = badge.code or ""
    else:
        code = (code or request.GET.get("code", "")).strip().upper()
        if code and code != request.resolver_match.kwargs.get("code"):
            return redirect("training:verify", code=code)
    certificate = (
        Certificate.objects.filter(code=code).select_related("course").first() if code else None
    )
    status = certificate.status() if certificate else ("unknown" if code else "")
    return render(
        request,
        "training/verify.html",
        {
            "code": code,
            "certificate": certificate,
            "status": status,
            "badge": badge,
            "can_revoke": certificate is not None
            and status != "revoked"
            and request.user.is_authenticated
            and access.can(request.user, MANAGE, certificate.library),
        },
        status=404 if status == "unknown" else 200,
    )


def issuer(request):
    """The badge issuer's public key, for verifiers that want it spelled out."""
    return JsonResponse(
        {
            "id": badges.issuer_did(),
            "type": "Ed25519",
            "publicKeyBase64": badges.public_key_b64(),
            "cryptosuite": badges.CRYPTOSUITE,
        }
    )
