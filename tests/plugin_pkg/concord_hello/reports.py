from portal.reports import ReportCell, ReportColumn


def report_columns(library, people):
    return [
        ReportColumn(
            key="greeted",
            title="Greeted",
            cells={person.user_id: ReportCell("yes", "ok") for person in people},
        )
    ]
