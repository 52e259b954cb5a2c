"""The public web copy of a sent notice, per library branding and language, linked from
each message as "view in your browser"."""

import pytest
from django.core import mail

from plugins.patron_notices.models import LibraryParticipation, Notice
from plugins.patron_notices.notices import services as notices
from portal.members.models import LibraryPluginSwitch

from .engine_support import notice, patron

pytestmark = pytest.mark.django_db


def archive(client, n, code, language="en"):
    return client.get(f"/patron-notices/archive/{n.pk}/{code}/{language}/")


def test_each_message_links_its_librarys_web_copy(client, libs, django_capture_on_commit_callbacks):
    libs["main"].primary_colour = "#aa0000"
    libs["main"].save()
    patron(libs["main"], "M1", "ada@example.org", first="Ada", last_name="Okafor")
    patron(libs["south"], "S1", "bo@example.org", first="Bo", language="fr")
    n = notice(state=Notice.State.APPROVED)
    LibraryParticipation.objects.create(
        notice=n, library=libs["north"], decision="approved", local_paragraph="Open Sundays."
    )
    with django_capture_on_commit_callbacks(execute=True):
        notices.do_schedule_notice(None, n)
    assert Notice.objects.get(pk=n.pk).state == Notice.State.DONE
    links = {}
    for message in mail.outbox:
        markup = message.alternatives[0][0]
        links[message.to[0]] = markup.split('href="', 2)[1].split('"')[0]
    assert links["ada@example.org"] == f"http://testserver/patron-notices/archive/{n.pk}/main/en/"
    assert links["bo@example.org"] == f"http://testserver/patron-notices/archive/{n.pk}/south/fr/"

    page = client.get(links["ada@example.org"].removeprefix("http://testserver"))
    assert page.status_code == 200  # anonymous: the archive is public
    html = page.content.decode()
    assert "Fines waived at Main" in html and "#aa0000" in html and "Open Sundays." in html
    assert "Dear reader, fines are waived." in html
    # Nobody's data: no name, no address, no unsubscribe token.
    for private in ("Ada", "Okafor", "ada@example.org", "/u/"):
        assert private not in html
    french = client.get(links["bo@example.org"].removeprefix("http://testserver"))
    assert "Amendes annulées à South System" in french.content.decode()
    assert "Open Sundays." not in french.content.decode()


def test_only_sent_notices_and_their_audience_have_a_web_copy(client, libs):
    draft = notice()
    assert archive(client, draft, "main").status_code == 404
    for state in (Notice.State.APPROVED, Notice.State.SCHEDULED, Notice.State.CANCELLED):
        Notice.objects.filter(pk=draft.pk).update(state=state)
        assert archive(client, draft, "main").status_code == 404
    sent = notice(state=Notice.State.DONE)
    sent.libraries.set([libs["north"]])
    assert archive(client, sent, "east").status_code == 200  # a branch of the chosen system
    assert archive(client, sent, "south").status_code == 404  # not in the audience
    assert archive(client, sent, "east", "de").status_code == 404  # no such version
    LibraryParticipation.objects.create(notice=sent, library=libs["north"], decision="opted_out")
    assert archive(client, sent, "east").status_code == 404
    everyone = notice(state=Notice.State.DONE)
    LibraryPluginSwitch.objects.create(library=libs["south"], plugin="patron_notices")
    assert archive(client, everyone, "south").status_code == 404
    assert archive(client, everyone, "main").status_code == 200
