"""Policy acknowledgements appear beside course completions in the per-library report,
through the core's report hook (no plugin imports another)."""

from knowledge_base.policies.services.acknowledgement import check_acknowledge, do_acknowledge
from portal.members.models import LibraryPluginSwitch
from portal.members.roles import STAFF
from portal.reports import people_report
from tests import factories

from .conftest import new_policy, revise


def acknowledge(user, page):
    version, library = check_acknowledge(user, page)
    return do_acknowledge(user, version, library)


def policy_cells(report):
    [column] = [c for c in report.columns if c.plugin == "policies"]
    return column


def test_the_report_shows_who_acknowledged_the_current_version(consortium, library_page):
    system = consortium["systems"][0]
    page = new_policy(library_page)
    done = factories.member(system, STAFF)
    waiting = factories.member(system, STAFF)
    outsider = factories.member(consortium["systems"][1], STAFF)
    acknowledge(done, page)

    column = policy_cells(people_report(system))
    assert "CIRC-004 v1" in str(column.title)
    assert column.cell(done.pk).state == "ok"
    assert column.cell(waiting.pk).state == "pending"
    assert outsider.pk not in column.cells  # another library's staff is not in this report

    # A material change: the old acknowledgement no longer counts.
    revise(page, ["Loans last two weeks."], material=True)
    column = policy_cells(people_report(system))
    assert "CIRC-004 v2" in str(column.title)
    assert column.cell(done.pk).state == "pending"


def test_no_policy_column_where_the_library_switched_policies_off(consortium, library_page):
    system = consortium["systems"][0]
    new_policy(library_page)
    factories.member(system, STAFF)
    LibraryPluginSwitch.objects.create(library=system, plugin="policies", enabled=False)
    system = type(system).objects.get(pk=system.pk)
    assert not [c for c in people_report(system).columns if c.plugin == "policies"]
