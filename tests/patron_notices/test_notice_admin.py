"""The notices admin: drafting, approval by a second person, sending controls, progress,
preview and test send, each decided through portal.access."""

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Permission
from django.core import mail

from plugins.patron_notices.models import Delivery, Notice
from portal.members.roles import CONSORTIUM_ADMIN
from tests import factories

from .engine_support import notice, patron

pytestmark = pytest.mark.django_db


def office_member(libs, email):
    user = factories.member(libs["root"], CONSORTIUM_ADMIN, email=email)
    Authenticator.objects.create(user=user, type="totp", data={"secret": "x"})
    return user


def admin_access(user):
    # A deployment puts its communications people in a group with admin access.
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")
    )
    return user


@pytest.fixture
def office(libs):
    return office_member(libs, "office@example.org")


@pytest.fixture
def second(libs):
    return office_member(libs, "second@example.org")


def act(client, n, action, **data):
    return client.post(f"/admin/notices/{n.pk}/act/{action}/", data)


def refused(response) -> bool:
    # Wagtail's admin turns PermissionDenied into a redirect to its dashboard with a message.
    return response.status_code == 403 or (
        response.status_code == 302 and response["Location"] == "/admin/"
    )


def state(n):
    return Notice.objects.get(pk=n.pk).state


def test_communications_drafts_but_cannot_approve_or_send(client, libs, people, office):
    comms = admin_access(people["comms"])
    client.force_login(comms)
    assert client.get("/admin/notices/add/").status_code == 200
    # A draft of the library's own (the office's drafts are the office's: test_notice_trust).
    draft = notice(author=factories.member(libs["north"], "communications", email="c2@x.org"))
    listing = client.get("/admin/notices/")
    assert listing.status_code == 200
    assert f"/admin/notices/{draft.pk}/manage/" in listing.content.decode()
    assert client.get(f"/admin/notices/edit/{draft.pk}/").status_code == 200
    page = client.get(f"/admin/notices/{draft.pk}/manage/")
    assert page.status_code == 200
    assert b"/act/approve/" not in page.content  # no sending controls offered
    assert refused(act(client, draft, "approve"))
    assert state(draft) == Notice.State.DRAFT
    Notice.objects.filter(pk=draft.pk).update(state=Notice.State.APPROVED)
    assert refused(act(client, draft, "schedule"))
    assert state(draft) == Notice.State.APPROVED
    # Once past draft, nobody edits it any more.
    assert refused(client.get(f"/admin/notices/edit/{draft.pk}/"))


def test_staff_without_draft_permission_are_refused(client, libs, people, office):
    staff = admin_access(people["staff"])
    client.force_login(staff)
    draft = notice(author=office)
    assert refused(client.get("/admin/notices/"))
    assert refused(client.get(f"/admin/notices/{draft.pk}/manage/"))
    assert refused(client.get(f"/admin/notices/{draft.pk}/progress.json"))
    assert refused(client.get(f"/admin/notices/{draft.pk}/preview/"))
    assert refused(act(client, draft, "cancel"))


def notice_form(**overrides):
    from wagtail.test.utils.form_data import nested_form_data, rich_text, streamfield

    data = nested_form_data(
        {
            "title": "Closure",
            "category": "service",
            "versions": streamfield(
                [
                    (
                        "version",
                        {
                            "language": "fr",
                            "subject": "Fermeture",
                            "body": streamfield([("paragraph", rich_text("<p>Bonjour</p>"))]),
                        },
                    )
                ]
            ),
            "patron_categories": "",
            "send_at": "",
            "participation_deadline": "",
            "hourly_limit": "",
            "domain_limit": "",
        }
    )
    data.update(overrides)
    return data


def approve_url(n, task_state):
    return f"/admin/notices/workflow/action/{n.pk}/approve/{task_state.pk}/"


def test_a_second_person_approves_in_the_workflow_then_the_office_schedules(
    client, libs, people, office, second, django_capture_on_commit_callbacks
):
    client.force_login(office)
    assert client.post("/admin/notices/add/", notice_form()).status_code == 302
    draft = Notice.objects.get(title="Closure")
    assert (draft.author, draft.live, draft.state) == (office, False, Notice.State.DRAFT)
    # The author submits it to the workflow from the edit page.
    response = client.post(
        f"/admin/notices/edit/{draft.pk}/", notice_form(**{"action-submit": "1"})
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.workflow_in_progress
    task_state = draft.current_workflow_task_state
    assert task_state.task.specific.__class__.__name__ == "NoticeApprovalTask"
    # Neither the author nor a drafter without the right to send approves it.
    assert refused(client.post(approve_url(draft, task_state)))
    client.force_login(admin_access(people["comms"]))
    assert refused(client.post(approve_url(draft, task_state)))
    draft.refresh_from_db()
    assert (draft.state, draft.live) == (Notice.State.DRAFT, False)
    # A plain "Publish" does not skip the workflow either.
    client.force_login(second)
    client.post(f"/admin/notices/edit/{draft.pk}/", notice_form(**{"action-publish": "1"}))
    draft.refresh_from_db()
    assert (draft.state, draft.live) == (Notice.State.DRAFT, False)
    # Someone else of the office approves: the workflow publishes it, and it is approved.
    assert client.post(approve_url(draft, draft.current_workflow_task_state)).status_code == 302
    approved = Notice.objects.get(pk=draft.pk)
    assert (approved.state, approved.live, approved.approved_by) == (
        Notice.State.APPROVED,
        True,
        second,
    )
    assert approved.current_workflow_state is None  # the workflow is finished
    with django_capture_on_commit_callbacks(execute=False):
        act(client, approved, "schedule", send_at="2099-01-01T09:00")
    scheduled = Notice.objects.get(pk=draft.pk)
    assert scheduled.state == Notice.State.SCHEDULED
    assert scheduled.send_at.year == 2099


def test_controls_pause_resume_cancel_and_retry_failed(
    client, libs, office, django_capture_on_commit_callbacks
):
    n = notice(author=office, state=Notice.State.SENDING, planned_count=3)
    for i, lib in enumerate(("main", "east", "south")):
        p = patron(libs[lib], f"C{i}", f"p{i}@example.net")
        Delivery.objects.create(
            notice=n, contact=p.contact, patron=p, library=libs[lib], language="en"
        )
    Delivery.objects.filter(library=libs["south"]).update(state="failed", last_error="550")
    client.force_login(office)
    act(client, n, "pause")
    assert state(n) == Notice.State.PAUSED
    act(client, n, "pause")  # refused: already paused, nothing changes
    assert state(n) == Notice.State.PAUSED
    with django_capture_on_commit_callbacks(execute=True):
        act(client, n, "resume")
    # Tasks run eagerly here: resuming sent the queued rows (to the test mailbox), and a
    # notice with only failed rows left is done.
    assert Delivery.objects.filter(notice=n, state="sent").count() == 2
    assert state(n) == Notice.State.DONE
    # Workers render again (reading the senders anew) after a resume or a retry.
    assert Notice.objects.get(pk=n.pk).generation == 1
    with django_capture_on_commit_callbacks(execute=True):
        act(client, n, "retry_failed")
    assert Delivery.objects.filter(notice=n, state="failed").count() == 0
    assert Delivery.objects.filter(notice=n, state="sent").count() == 3
    assert state(n) == Notice.State.DONE
    assert Notice.objects.get(pk=n.pk).generation == 2
    assert act(client, n, "cancel").status_code == 302
    assert state(n) == Notice.State.DONE  # a finished notice cannot be cancelled


def test_progress_json_counts_per_state_and_library(client, libs, office):
    n = notice(author=office, state=Notice.State.SENDING, planned_count=4)
    for i, (lib, row_state) in enumerate(
        [("main", "sent"), ("main", "sent"), ("east", "failed"), ("south", "queued")]
    ):
        p = patron(libs[lib], f"G{i}", f"g{i}@example.net")
        Delivery.objects.create(
            notice=n,
            contact=p.contact,
            patron=p,
            library=libs[lib],
            language="en",
            state=row_state,
        )
    Notice.objects.filter(pk=n.pk).update(started_at=n.created_at)
    client.force_login(office)
    data = client.get(f"/admin/notices/{n.pk}/progress.json").json()
    assert (data["sent"], data["failed"], data["remaining"], data["planned"]) == (2, 1, 1, 4)
    assert data["rate"] > 0 and data["expected_finish"]
    by_name = {row["name"]: row for row in data["libraries"]}
    assert by_name["Main"]["sent"] == 2 and by_name["East"]["failed"] == 1
    assert by_name["South System"]["queued"] == 1


def test_preview_as_any_librarys_patron(client, libs, office):
    n = notice(author=office)
    client.force_login(office)
    page = client.get(
        f"/admin/notices/{n.pk}/preview/",
        {"library": libs["east"].pk, "language": "fr", "first_name": "Zoé"},
    )
    assert page.status_code == 200
    assert "Amendes annulées à East" in page.content.decode()
    message = client.get(
        f"/admin/notices/{n.pk}/preview/message/",
        {"library": libs["east"].pk, "language": "fr", "first_name": "Zoé"},
    )
    body = message.content.decode()
    assert "Bonjour Zoé" in body and "East" in body


def test_test_send_goes_to_the_chosen_addresses_only(
    client, libs, people, office, django_capture_on_commit_callbacks
):
    comms = admin_access(people["comms"])
    n = notice(author=comms)
    client.force_login(comms)  # drafting is enough to send oneself a test
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/notices/{n.pk}/test-send/",
            {
                "library": libs["main"].pk,
                "language": "en",
                "addresses": "me@example.org\nyou@x.org",
            },
        )
    assert response.status_code == 302
    assert sorted(m.to[0] for m in mail.outbox) == ["me@example.org", "you@x.org"]
    assert all(m.subject == "[Test] Fines waived at Main" for m in mail.outbox)
    assert Delivery.objects.count() == 0  # a test is no delivery
    too_many = "\n".join(f"a{i}@example.org" for i in range(11))
    page = client.post(
        f"/admin/notices/{n.pk}/test-send/",
        {"library": libs["main"].pk, "language": "en", "addresses": too_many},
    )
    assert page.status_code == 200 and len(mail.outbox) == 2


def test_communications_reach_the_admin_by_their_role_alone(client, libs):
    from plugins.patron_notices.notices.services import DRAFTERS_GROUP
    from portal.members.models import Membership
    from portal.members.roles import COMMUNICATIONS, STAFF

    comms = factories.member(libs["main"], COMMUNICATIONS, email="c2@example.org")
    staff = factories.member(libs["main"], STAFF, email="s2@example.org")
    client.force_login(comms)  # no admin permission given by hand
    assert client.get("/admin/notices/add/").status_code == 200
    home = client.get("/admin/")
    assert home.status_code == 200
    assert "/patron-notices/notices/" in home.content.decode()  # the libraries' side
    client.force_login(staff)
    assert client.get("/admin/notices/").status_code == 302  # out of the admin
    assert not staff.groups.filter(name=DRAFTERS_GROUP).exists()
    # Losing the role closes the admin again.
    Membership.objects.filter(user=comms).delete()
    assert not comms.groups.filter(name=DRAFTERS_GROUP).exists()
    client.force_login(comms)
    assert client.get("/admin/notices/add/").status_code == 302


def test_a_role_that_opens_no_admin_door_changes_no_group(libs):
    """Every admin door looks at each membership change, and most concern none of them: a
    group is only joined or left when that changes, so nothing drops the person's kept
    standing for nothing."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import m2m_changed

    from portal.members.models import Membership
    from portal.members.roles import COMMUNICATIONS, STAFF

    changes = []

    def record(sender, action, pk_set, **kwargs):
        changes.append((action, sorted(pk_set or ())))

    through = get_user_model().groups.through
    m2m_changed.connect(record, sender=through)
    try:
        staff = factories.member(libs["main"], STAFF, email="s4@example.org")
        Membership.objects.create(user=staff, library=libs["east"], role=STAFF)
        assert changes == []
        Membership.objects.create(user=staff, library=libs["east"], role=COMMUNICATIONS)
        joined = {pk for action, pks in changes if action == "post_add" for pk in pks}
        assert {action for action, _ in changes} == {"pre_add", "post_add"}
        assert joined == set(staff.groups.values_list("pk", flat=True)) != set()
    finally:
        m2m_changed.disconnect(record, sender=through)


def test_audience_is_edited_in_the_admin_and_counted_before_sending(client, libs, office):
    from wagtail.test.utils.form_data import nested_form_data, rich_text, streamfield

    for i, (lib, category, language) in enumerate(
        [("main", "PT", "fr"), ("east", "PT", "fr"), ("main", "ST", "fr"), ("south", "PT", "fr")]
    ):
        patron(libs[lib], f"A{i}", f"a{i}@example.net", language=language, category=category)
    patron(libs["east"], "A9", "a0@example.net", language="fr", category="PT")  # same person
    client.force_login(office)
    data = nested_form_data(
        {
            "title": "Closure",
            "category": "service",
            "versions": streamfield(
                [
                    (
                        "version",
                        {
                            "language": "fr",
                            "subject": "Fermeture",
                            "body": streamfield([("paragraph", rich_text("<p>Bonjour</p>"))]),
                        },
                    )
                ]
            ),
            "patron_categories": "PT, ",
            "send_at": "",
            "participation_deadline": "",
            "hourly_limit": "",
            "domain_limit": "",
        }
    )
    data["libraries"] = [libs["north"].pk]  # a system: its branches come with it
    data["languages"] = ["fr"]
    response = client.post("/admin/notices/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    n = Notice.objects.get(title="Closure")
    assert (n.patron_categories, n.languages, n.author) == (["PT"], ["fr"], office)
    assert list(n.libraries.all()) == [libs["north"]]
    page = client.get(f"/admin/notices/{n.pk}/manage/").content.decode()
    # a0 (two cards, counted once) and a1: PT patrons of North's branches reading French.
    assert "would reach 2 people by email" in page
    edit = client.get(f"/admin/notices/edit/{n.pk}/").content.decode()
    assert 'value="PT"' in edit and 'name="languages"' in edit


def test_people_who_held_the_role_before_reach_the_admin_after_migrate(libs):
    from django.contrib.auth.models import Group

    from plugins.patron_notices.notices.services import DRAFTERS_GROUP, sync_all_drafters
    from portal.members.roles import COMMUNICATIONS, STAFF

    comms = factories.member(libs["south"], COMMUNICATIONS, email="c3@example.org")
    staff = factories.member(libs["south"], STAFF, email="s3@example.org")
    group = Group.objects.get(name=DRAFTERS_GROUP)
    group.user_set.set([staff])  # as if out of step: a stale member, a missing one
    sync_all_drafters()
    assert set(group.user_set.all()) == {comms}
    assert comms.has_perm("wagtailadmin.access_admin")
