"""Reports: a director sees only their libraries' staff; the office sees every library
with totals; the report pages keep a constant number of queries from 10 to 500
libraries and 20,000 staff."""

import itertools
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from knowledge_base.training.models import Enrolment
from knowledge_base.training.services.assignment import AssignmentRequest, do_assign
from portal.members.models import LibraryPluginSwitch, MemberLibrary, Membership
from portal.members.roles import STAFF
from portal.reports import people_report

from .test_completion import complete

pytestmark = pytest.mark.django_db


@pytest.fixture
def assigned(world, course):
    request = AssignmentRequest(course, world["root"], roles=[STAFF])
    do_assign(world["office"], request)
    complete(world["staff_a"], course)
    return course


def get(client, user, url):
    client.force_login(user)
    return client.get(url)


def test_director_sees_own_staff_complete_and_never_another_librarys(client, world, assigned):
    director = world["director_a"]
    response = get(client, director, f"/training/reports/{world['system_a'].code}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Ada Staff" in html and 'data-status="completed"' in html
    assert "Bea Other" not in html
    for url in (
        f"/training/reports/{world['system_b'].code}/",
        f"/training/reports/{world['branch_b1'].code}/?format=csv",
        f"/training/compliance/{world['system_b'].code}/",
        "/training/reports/office/",
        "/training/reports/office/?format=csv",
    ):
        assert get(client, director, url).status_code == 403, url
    csv = get(client, director, f"/training/reports/{world['system_a'].code}/?format=csv")
    assert "Ada Staff" in csv.content.decode() and "Bea Other" not in csv.content.decode()
    index = get(client, director, "/training/reports/").content.decode()
    assert world["system_a"].name in index and world["system_b"].name not in index


def test_staff_cannot_see_reports(client, world, assigned):
    assert get(client, world["staff_a"], "/training/reports/").status_code == 403
    url = f"/training/reports/{world['branch_a1'].code}/"
    assert get(client, world["staff_a"], url).status_code == 403


def test_office_report_totals_csv_and_pdf(client, world, assigned):
    Enrolment.objects.filter(user=world["staff_b"]).update(
        due=timezone.localdate() - timedelta(days=1)
    )
    office = world["office"]
    html = get(client, office, "/training/reports/office/").content.decode()
    assert world["branch_a1"].name in html and world["branch_b1"].name in html
    csv = get(client, office, "/training/reports/office/?format=csv").content.decode()
    rows = {line.split(",")[1]: line.split(",") for line in csv.strip().splitlines()[1:]}
    # Library, Code, People, Assigned, Completed, In progress, Overdue, Not started
    assert rows[world["branch_a1"].code][3:7] == ["1", "1", "0", "0"]
    assert rows[world["branch_b1"].code][3:8] == ["1", "0", "0", "1", "0"]
    pdf = get(client, office, "/training/reports/office/?format=pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    pdf = get(client, office, f"/training/reports/{world['system_a'].code}/?format=pdf")
    assert pdf.content.startswith(b"%PDF")


def test_csv_cells_cannot_run_as_formulas(client, world, assigned):
    world["staff_a"].full_name = "=HYPERLINK(1)"
    world["staff_a"].save()
    csv = get(client, world["office"], f"/training/reports/{world['system_a'].code}/?format=csv")
    assert "'=HYPERLINK(1)" in csv.content.decode()


def test_compliance_view_collects_plugin_columns_through_the_core_hook(client, world, assigned):
    report = people_report(world["system_a"])
    training = [c for c in report.columns if c.plugin == "training"]
    assert [c.title for c in training] == [assigned.title]
    assert training[0].cell(world["staff_a"].pk).state == "ok"
    assert {p.user_id for p in report.people} == {world["staff_a"].pk, world["director_a"].pk}
    html = get(client, world["director_a"], f"/training/compliance/{world['system_a'].code}/")
    assert 'data-plugin="training"' in html.content.decode()
    # A plugin switched off for the library adds no column.
    LibraryPluginSwitch.objects.create(library=world["system_a"], plugin="training", enabled=False)
    assert not [c for c in people_report(world["system_a"]).columns if c.plugin == "training"]


# --- constant queries -----------------------------------------------------------------

_emails = itertools.count(1)


def grow(root, course, systems, staff_per_library, home=None, home_staff=0):
    """Add ``systems`` systems of four branches, their staff and enrolments, in bulk."""
    root.refresh_from_db()
    start = root.numchild
    nodes = []
    for i in range(systems):
        path = MemberLibrary._get_path(root.path, root.depth + 1, start + i + 1)
        nodes.append(
            MemberLibrary(
                path=path,
                depth=root.depth + 1,
                numchild=4,
                name=f"System {path}",
                code=f"s{path.lower()}",
                kind="system",
            )
        )
        for b in range(4):
            branch = MemberLibrary._get_path(path, root.depth + 2, b + 1)
            nodes.append(
                MemberLibrary(
                    path=branch,
                    depth=root.depth + 2,
                    name=f"Branch {branch}",
                    code=f"b{branch.lower()}",
                    kind="branch",
                )
            )
    MemberLibrary.objects.bulk_create(nodes, batch_size=2000)
    MemberLibrary.objects.filter(pk=root.pk).update(numchild=start + systems)
    targets = [(lib, staff_per_library) for lib in nodes if lib.kind == "branch"]
    if home is not None:
        targets.append((home, home_staff))
    User = get_user_model()
    users, places = [], []
    for library, count in targets:
        for _ in range(count):
            n = next(_emails)
            users.append(User(email=f"bulk{n}@example.org", full_name=f"Bulk {n}", password="!"))
            places.append(library)
    users = User.objects.bulk_create(users, batch_size=5000)
    Membership.objects.bulk_create(
        [Membership(user=u, library=lib, role=STAFF) for u, lib in zip(users, places, strict=True)],
        batch_size=5000,
    )
    states = itertools.cycle(["completed", "in_progress", "enrolled"])
    today = timezone.localdate()
    Enrolment.objects.bulk_create(
        [
            Enrolment(
                user=u,
                course=course,
                library=lib,
                state=next(states),
                due=today + timedelta(days=(i % 20) - 10),
            )
            for i, (u, lib) in enumerate(zip(users, places, strict=True))
        ],
        batch_size=5000,
    )
    return len(nodes), len(users)


def count_queries(client, user, url):
    client.force_login(user)
    client.get(url)  # warm per-process caches (content types, site root)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx)


@pytest.mark.slow
def test_report_pages_keep_constant_queries_from_10_to_500_libraries(client, world, assigned):
    director, office = world["director_a"], world["office"]
    system = world["system_a"]
    urls = [
        (director, f"/training/reports/{system.code}/"),
        (director, f"/training/reports/{system.code}/?format=csv"),
        (director, f"/training/compliance/{system.code}/"),
        (director, "/training/reports/"),
        (office, "/training/reports/office/"),
        (office, "/training/reports/office/?format=csv"),
        (office, f"/training/reports/{system.code}/"),
        (director, "/training/me/"),
    ]
    grow(
        world["root"],
        assigned,
        systems=1,
        staff_per_library=2,
        home=world["branch_a1"],
        home_staff=3,
    )
    assert MemberLibrary.objects.count() == 12
    small = {url: count_queries(client, user, url) for user, url in urls}
    libraries, staff = grow(
        world["root"],
        assigned,
        systems=98,
        staff_per_library=51,
        home=world["branch_a1"],
        home_staff=60,
    )
    assert MemberLibrary.objects.count() >= 500
    assert Membership.objects.filter(role=STAFF).count() >= 20_000
    large = {url: count_queries(client, user, url) for user, url in urls}
    assert small == large
    client.force_login(office)
    # On screen a page of them, with the way to the others; the CSV has every one.
    rows = client.get("/training/reports/office/").context["rows"]
    assert rows.paginator.count >= 500 and rows.has_next()
    csv = client.get("/training/reports/office/?format=csv").content.decode()
    assert csv.count("\n") >= 500
