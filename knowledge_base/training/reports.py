"""The training columns of the core's per-library people report (portal.reports)."""

from django.utils import formats
from django.utils.translation import gettext as _

from portal.reports import ReportCell, ReportColumn

from .models import Enrolment


def report_columns(library, people) -> list[ReportColumn]:
    """One column per course any of ``people`` is enrolled in; one query."""
    enrolments = (
        Enrolment.objects.filter(user_id__in=[p.user_id for p in people], current=True)
        .select_related("course")
        .order_by("course__title")
    )
    columns: dict[int, ReportColumn] = {}
    for enrolment in enrolments:
        column = columns.setdefault(
            enrolment.course_id,
            ReportColumn(key=f"course-{enrolment.course_id}", title=enrolment.course.title),
        )
        status = enrolment.status
        if status == "completed" and enrolment.completed_at:
            cell = ReportCell(
                _("Completed %(date)s")
                % {"date": formats.date_format(enrolment.completed_at, "SHORT_DATE_FORMAT")},
                "ok",
            )
        elif status == "completed":
            cell = ReportCell(_("Completed"), "ok")
        elif status == "overdue":
            cell = ReportCell(_("Overdue"), "overdue")
        elif status == "in_progress":
            cell = ReportCell(_("In progress"), "pending")
        else:
            cell = ReportCell(_("Not started"), "pending")
        column.cells[enrolment.user_id] = cell
    return list(columns.values())
