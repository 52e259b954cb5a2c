"""The policies columns of the core's per-library people report (portal.reports): each
active acknowledgement campaign beside the training columns, in the compliance view."""

from django.utils import formats
from django.utils.translation import gettext as _

from portal.reports import ReportCell, ReportColumn

from .selectors import acknowledged_numbers, active_campaigns, campaign_reaches


def report_columns(library, people) -> list[ReportColumn]:
    """One column per active campaign reaching anyone listed; three queries in all."""
    campaigns = active_campaigns()
    if not campaigns or not people:
        return []
    done = acknowledged_numbers([p.user_id for p in people], list({c.policy_id for c in campaigns}))
    columns = []
    for campaign in campaigns:
        column = ReportColumn(
            key=f"campaign-{campaign.pk}",
            title=_("%(code)s v%(number)s acknowledged")
            % {"code": campaign.policy.code, "number": campaign.version.number},
        )
        for person in people:
            if not any(campaign_reaches(campaign, library, role) for role in person.roles):
                continue
            number, when = done.get((person.user_id, campaign.policy_id), (None, None))
            if number is not None and number >= campaign.version.number:
                text = _("Acknowledged %(date)s") % {
                    "date": formats.date_format(when, "SHORT_DATE_FORMAT")
                }
                column.cells[person.user_id] = ReportCell(text, "ok")
            elif campaign.is_overdue():
                column.cells[person.user_id] = ReportCell(_("Overdue"), "overdue")
            else:
                column.cells[person.user_id] = ReportCell(_("Not yet"), "pending")
        if column.cells:
            columns.append(column)
    return columns
