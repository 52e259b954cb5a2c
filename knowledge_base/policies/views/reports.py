"""The acknowledgement report: on screen a page of libraries at a time, CSV and PDF, and
reminders sent from it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import access, exports
from portal.pdf import render_pdf

from .. import selectors
from ..models import PolicyPage
from ..services.reminders import do_remind_now
from .common import pdf_response


def _report_libraries(request):
    libraries = access.libraries_for(request.user, "policies.view_acknowledgements")
    if not libraries.exists():
        raise PermissionDenied
    return libraries


REPORT_LIBRARIES_PER_PAGE = 25


@login_required
def report(request):
    """Acknowledgement status: a director's libraries, or every library for the office;
    filtered by policy, library and status, with rates per policy, a page of libraries at a
    time, and reminders for those who have not acknowledged yet."""
    libraries = _report_libraries(request)
    code = request.GET.get("policy", "")
    search = request.GET.get("library", "").strip()[:100]
    missing_only = request.GET.get("missing") == "1"
    policy_ids = None
    if code:
        policy_ids = list(PolicyPage.objects.filter(code=code).values_list("pk", flat=True))
    if search:
        libraries = libraries.filter(name__icontains=search)
    rows = selectors.acknowledgement_report(libraries, policy_ids)
    if request.GET.get("format") == "csv":
        return _report_csv(rows)
    if request.method == "POST":
        missing = [
            person.membership.user_id
            for row in rows
            for status in row.campaigns
            for person in status.people
            if not person.acknowledged_at
        ]
        with transaction.atomic():
            queued, skipped = do_remind_now(request.user, missing)
        messages.success(
            request,
            _("Reminders are on their way to %(n)s people.") % {"n": queued}
            + (" " + _("%(n)s were already reminded today.") % {"n": skipped} if skipped else ""),
        )
        return redirect(f"{request.path}?{request.GET.urlencode()}")
    rates: dict[str, list[int]] = {}
    for row in rows:
        for status in row.campaigns:
            key = f"{status.campaign.version.code} v{status.campaign.version.number}"
            entry = rates.setdefault(key, [0, 0])
            entry[0] += status.done
            entry[1] += status.total
    shown = [row for row in rows if row.campaigns and (not missing_only or row.done < row.total)]
    page = Paginator(shown, REPORT_LIBRARIES_PER_PAGE).get_page(request.GET.get("page"))
    paging = request.GET.copy()
    paging.pop("page", None)
    return render(
        request,
        "policies/report.html",
        {
            "rows": page,
            "page": page,
            "code": code,
            "search": search,
            "missing_only": missing_only,
            "policies": selectors.active_campaigns(),
            "rates": [
                (key, done, total, round(100 * done / total) if total else 100)
                for key, (done, total) in sorted(rates.items())
            ],
            "query": request.GET.urlencode(),
            "paging": paging.urlencode(),
        },
    )


def _report_csv(rows) -> HttpResponse:
    stamp = timezone.localdate().isoformat()
    response = exports.csv_response(f"acknowledgements-{stamp}.csv")
    writer = exports.writer(response)
    writer.writerow(
        [
            _("library code"),
            _("library"),
            _("policy"),
            _("version"),
            _("due"),
            _("person"),
            _("email"),
            _("role"),
            _("acknowledged at"),
            _("how"),
        ]
    )
    for row in rows:
        for status in row.campaigns:
            campaign = status.campaign
            for person in status.people:
                user = person.membership.user
                at = person.acknowledged_at
                writer.writerow(
                    [
                        row.library.code,
                        row.library.name,
                        campaign.version.code,
                        campaign.version.number,
                        campaign.due_date.isoformat(),
                        user.get_full_name(),
                        user.email,
                        person.membership.role,
                        timezone.localtime(at).isoformat(timespec="minutes") if at else "",
                        ("quiz" if person.by_quiz else "click") if at else "",
                    ]
                )
    return response


@login_required
def report_pdf(request):
    libraries = _report_libraries(request)
    rows = selectors.acknowledgement_report(libraries)
    pdf = render_pdf(
        "policies/pdf/report.html", {"rows": rows, "today": timezone.localdate()}, request=request
    )
    return pdf_response(pdf, f"acknowledgements-{timezone.localdate().isoformat()}.pdf")
