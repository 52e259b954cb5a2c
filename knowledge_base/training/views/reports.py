"""Training reports: a library's people by course, the office's table of libraries, and
the compliance report beside the other plugins' columns; on screen, CSV and PDF."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from portal import access, exports
from portal.members.models import MemberLibrary
from portal.members.roles import role_choices
from portal.pdf import render_pdf
from portal.reports import people_report

from .. import selectors
from ..rules import REPORT


def _csv_response(filename: str, header: list, rows) -> HttpResponse:
    return exports.csv_response(filename, header, rows)


def _pdf_response(filename: str, template: str, context: dict) -> HttpResponse:
    response = HttpResponse(render_pdf(template, context), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# Lists that grow with the consortium are paged, never cut.
PAGE_SIZE = 50


@login_required
def reports(request):
    libraries = selectors.report_libraries(request.user)
    q = request.GET.get("q", "").strip()[:100]
    if q:
        libraries = libraries.filter(Q(name__icontains=q) | Q(code__iexact=q))
    page = Paginator(libraries, PAGE_SIZE).get_page(request.GET.get("page"))
    if not page.object_list and not q:
        raise PermissionDenied
    return render(
        request,
        "training/reports.html",
        {
            "libraries": page,
            "q": q,
            "query": urlencode({"q": q}) if q else "",
            "office": access.is_consortium_admin(request.user),
        },
    )


def _report_library(request, code: str) -> MemberLibrary:
    library = get_object_or_404(MemberLibrary, code=code)
    if not access.can(request.user, REPORT, library):
        raise PermissionDenied
    return library


def _status_label(enrolment) -> str:
    if enrolment is None:
        return ""
    return {
        "completed": _("Completed"),
        "overdue": _("Overdue"),
        "in_progress": _("In progress"),
        "enrolled": _("Not started"),
    }[enrolment.status]


@login_required
def library_report(request, code: str):
    library = _report_library(request, code)
    report = selectors.library_report(library)
    fmt = request.GET.get("format")
    if fmt == "csv":
        header = [_("Name"), _("Email"), _("Roles"), *[c.title for c in report.courses]]
        rows = (
            [p.name, p.email, ", ".join(p.roles), *[_status_label(e) for e in cells]]
            for p, cells in report.rows()
        )
        return _csv_response(f"training-{library.code}.csv", header, rows)
    context = {
        "library": library,
        "report": report,
        "totals": report.totals(),
        "roles": role_names(),
    }
    if fmt == "pdf":
        return _pdf_response(
            f"training-{library.code}.pdf", "training/pdf/library_report.html", context
        )
    return render(request, "training/library_report.html", context)


@login_required
def office_report(request):
    if not access.is_consortium_admin(request.user):
        raise PermissionDenied
    rows = selectors.office_report(selectors.report_libraries(request.user))
    totals = selectors.office_totals(rows)
    fmt = request.GET.get("format")
    if fmt == "csv":
        header = [
            _("Library"),
            _("Code"),
            _("People"),
            _("Assigned"),
            _("Completed"),
            _("In progress"),
            _("Overdue"),
            _("Not started"),
        ]
        return _csv_response(
            "training-all-libraries.csv",
            header,
            (
                [
                    r.library.name,
                    r.library.code,
                    r.people,
                    r.assigned,
                    r.completed,
                    r.in_progress,
                    r.overdue,
                    r.not_started,
                ]
                for r in rows
            ),
        )
    context = {"rows": rows, "totals": totals, "today": timezone.localdate()}
    if fmt == "pdf":
        return _pdf_response(
            "training-all-libraries.pdf", "training/pdf/office_report.html", context
        )
    # On screen: a page of the libraries (the totals stay the consortium's), found by name.
    q = request.GET.get("q", "").strip()[:100]
    shown = [r for r in rows if q.lower() in r.library.name.lower()] if q else rows
    context.update(
        rows=Paginator(shown, PAGE_SIZE).get_page(request.GET.get("page")),
        q=q,
        query=urlencode({"q": q}) if q else "",
    )
    return render(request, "training/office_report.html", context)


@login_required
def compliance(request, code: str):
    """People of one library beside every enabled plugin's columns (the core report hook)."""
    library = _report_library(request, code)
    report = people_report(library)
    if request.GET.get("format") == "csv":
        header = [_("Name"), _("Email"), _("Roles"), *[str(c.title) for c in report.columns]]
        rows = (
            [p.name, p.email, ", ".join(p.roles), *[c.text for c in cells]]
            for p, cells in report.rows()
        )
        return _csv_response(f"compliance-{library.code}.csv", header, rows)
    return render(
        request,
        "training/compliance.html",
        {"library": library, "report": report, "roles": role_names()},
    )


def role_names() -> dict[str, str]:
    """Every role's name as the office gave it, retired ones too (old assignments name them)."""
    return dict(role_choices(include_retired=True))
