"""Policies as PDF documents: one version, and the manual of every current policy."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.utils import timezone

from portal.pdf import render_pdf

from ..blocks import numbered
from ..models import PolicyPage, PolicyVersion
from ..selectors import LIBRARY_ORDER
from .common import live_policy, pdf_response, policy_version, require_reader


@login_required
def version_pdf(request, code, number):
    require_reader(request)
    page = live_policy(code)
    shown = policy_version(page, number)
    pdf = render_pdf(
        "policies/pdf/version.html",
        {"page": page, "version": shown, "blocks": numbered(shown.stream)},
    )
    return pdf_response(pdf, f"{shown.code}-v{shown.number}.pdf")


def manual_context() -> dict:
    """Every current policy with its latest version, for the manual PDF."""
    pages = list(PolicyPage.objects.live().select_related("category").order_by(*LIBRARY_ORDER))
    latest = {}
    for v in PolicyVersion.objects.filter(policy__in=pages).order_by("policy_id", "-number"):
        latest.setdefault(v.policy_id, v)
    entries = [
        {"page": p, "version": latest[p.pk], "blocks": numbered(latest[p.pk].stream)}
        for p in pages
        if p.pk in latest
    ]
    return {"entries": entries, "today": timezone.localdate()}


@login_required
def manual_pdf(request):
    require_reader(request)
    pdf = render_pdf("policies/pdf/manual.html", manual_context())
    return pdf_response(pdf, "policy-manual.pdf")
