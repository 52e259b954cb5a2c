"""The five jobs Concord exists for, done by the seeded demo's own people with clicks.

Each job runs on the SQLite demo and then on the PostgreSQL one (see conftest), in order:
the vote is opened first and counted last, so its window runs while the other jobs are
done.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from .conftest import COMMS, DEPUTY, OFFICE, wait_for, write_rich_text

pytestmark = [pytest.mark.e2e]

# The demo's time zone (settings.TIME_ZONE): what the office types into the admin.
LOCAL = ZoneInfo("America/New_York")
VOTE_WINDOW = timedelta(minutes=1)  # plus up to a minute: the admin takes minutes


@pytest.fixture(scope="session")
def stories():
    return {}


@pytest.fixture
def story(stories, demo):
    """What one job leaves for a later one, per demo."""
    return stories.setdefault(demo.backend, {})


def _committee_library(demo, committee: str) -> str:
    """A voting member with a seat on the committee, as the office's admin lists them."""
    rows = demo.sql(
        "SELECT l.code FROM governance_committeemembership m"
        " JOIN members_memberlibrary l ON l.id = m.library_id"
        " JOIN governance_committee c ON c.id = m.committee_id"
        " WHERE c.name = %s ORDER BY l.path",
        (committee,),
    )
    assert rows, f"the demo seeds seats on {committee}"
    return rows[0][0]


def test_a_office_creates_a_proposal_and_a_director_votes(demo, people, story):
    """(a) The office writes a proposal in the admin for a committee and opens it on the
    portal; a director of a library on the committee votes for it with TOTP."""
    title = f"Adopt a 14-day loan period ({demo.backend} {demo.tag})"
    committee = "Board of Directors"
    office = people.sign_in(OFFICE, mfa=True)

    office.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    office.get_by_role("button", name="Committee voting").click()
    office.get_by_role("link", name="Proposals").click()
    office.get_by_role("link", name="Add proposal").click()
    office.get_by_role("button", name="Choose committee").click()
    office.get_by_role("dialog").get_by_role("link", name=committee).click()
    office.get_by_label("Title").fill(title)
    write_rich_text(
        office,
        office.locator(".Draftail-Editor [contenteditable=true]").first,
        "body",
        "Loans of books last 14 days across the shared catalogue.",
    )
    office.get_by_label("Electorate").select_option(label="The committee's members")
    office.get_by_label("Quorum").fill("0.1")  # a tenth of the board's seven seats
    closes = (datetime.now(LOCAL) + VOTE_WINDOW).replace(second=0, microsecond=0)
    closes += timedelta(minutes=1)  # the admin takes minutes; round up, never down
    office.get_by_label("Voting closes").fill(closes.strftime("%Y-%m-%d %H:%M"))
    office.get_by_role("button", name="Save").first.click()

    # Saved in the admin, reviewed and opened on the portal where the directors will see it.
    expect(office.get_by_role("heading", level=1)).to_have_text(title)
    expect(office.get_by_text("only the office sees it")).to_be_visible()
    office.get_by_role("button", name="Open the vote").click()
    expect(office.get_by_role("heading", level=1)).to_have_text("Open the vote?")
    office.get_by_role("button", name="Yes, open the vote").click()
    expect(office.get_by_text("The vote is open.")).to_be_visible()
    expect(office.locator(".state")).to_have_text("Open")
    story["proposal_url"] = office.url
    story["closes"] = closes

    code = _committee_library(demo, committee)
    director_email = f"director.{code}@example.org"
    # The worker tells the committee's directors by mail.
    wait_for(
        lambda: any(director_email in m and title in m for m in demo.mails()),
        what=f"the opening notice to {director_email}",
    )
    director = people.sign_in(director_email, mfa=True)
    panel = director.locator('section.panel[data-plugin="governance"]')
    panel.get_by_role("link", name=title).click()
    ballot = director.locator(f'section.ballot[data-library="{code}"]')
    ballot.get_by_label("Yes").check()
    ballot.get_by_role("button", name="Cast vote").click()
    expect(director.get_by_role("heading", level=1)).to_have_text("Your ballot was recorded")
    assert re.fullmatch(
        r"[A-Z2-7]{4}(-[A-Z2-7]{4}){5}", director.locator("#receipt-code").inner_text()
    )
    story["director"] = director_email


COURSE = "Circulation in the shared catalogue"


def test_b_staff_take_an_assigned_course_and_the_director_reads_the_report(demo, people):
    """(b) A member of staff takes the course assigned to them to its certificate; their
    director finds the library's training report from the dashboard and sees it."""
    rows = demo.sql(
        "SELECT u.email, l.code, u.full_name FROM training_enrolment e"
        " JOIN accounts_user u ON u.id = e.user_id"
        " JOIN members_memberlibrary l ON l.id = e.library_id"
        " JOIN wagtailcore_page p ON p.id = e.course_id"
        " WHERE p.title = %s AND e.state = 'enrolled' AND u.email LIKE 'staff2.%%'"
        " AND l.depth = 2 ORDER BY l.path",
        (COURSE,),
    )
    assert rows, "the demo assigns the circulation course to staff"
    email, code, name = rows[0]
    staff = people.sign_in(email)
    staff.locator('section.panel[data-plugin="training"]').get_by_role("link", name=COURSE).click()
    staff.get_by_role("link", name="Start the course").click()
    for lesson in range(3):
        expect(staff.get_by_text(f"Lesson {lesson + 1} of 3")).to_be_visible()
        staff.get_by_role("button", name="Mark as done and continue").click()
    expect(staff.get_by_role("heading", name="Final quiz")).to_be_visible()
    # What the lessons taught: holds wait seven days; items with holds cannot be renewed.
    staff.get_by_label("Seven days").check()
    staff.get_by_label("Items with holds waiting").check()
    staff.get_by_role("button", name="Submit answers").click()
    expect(staff.get_by_text("You scored 100%")).to_be_visible()
    staff.get_by_role("link", name="Back to the course").click()
    with staff.expect_download() as download:
        staff.get_by_role("link", name="Download the certificate (PDF)").click()
    assert download.value.path().read_bytes().startswith(b"%PDF-")

    director = people.sign_in(f"director.{code}@example.org", mfa=True)
    panel = director.locator('section.panel[data-plugin="training"]')
    panel.get_by_role("link", name=re.compile(r"^Training report: ")).first.click()
    row = director.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("Completed")


POLICY = "Library cards and borrowing privileges"


def test_c_office_publishes_a_policy_change_and_staff_acknowledge_it(demo, people):
    """(c) The office changes a shared policy and publishes it; a member of staff is asked
    to acknowledge it and does; the office's acknowledgement report shows it."""
    change = f"Cards can now be renewed online ({demo.backend} {demo.tag})."
    office = people.sign_in(OFFICE, mfa=True)
    office.goto("/policies/")
    office.get_by_role("link", name=re.compile(POLICY)).first.click()
    office.get_by_role("link", name="Edit in the admin").click()
    clause = office.locator("[contenteditable=true]", has_text="Cards are valid for three years")
    write_rich_text(office, clause, "body-", " " + change, at_end=True)
    office.get_by_label("What changed").fill(change)
    expect(office.get_by_label("Days to acknowledge")).to_have_value("30")
    office.get_by_role("button", name="Publish").click()
    expect(office.get_by_text(re.compile("has been published"))).to_be_visible()

    rows = demo.sql(
        "SELECT u.email, u.full_name FROM accounts_user u"
        " JOIN members_membership m ON m.user_id = u.id"
        " JOIN members_memberlibrary l ON l.id = m.library_id"
        " WHERE m.role = 'staff' AND u.email LIKE 'staff3.%%' AND l.depth = 2 ORDER BY l.path"
    )
    email, name = rows[0]
    staff = people.sign_in(email)
    panel = staff.locator('section.panel[data-plugin="policies"]')
    panel.get_by_role("link", name=re.compile(POLICY)).click()
    expect(staff.get_by_text(change).first).to_be_visible()
    staff.get_by_role("button", name=re.compile("acknowledge", re.I)).first.click()
    expect(staff.get_by_text(re.compile("acknowledged", re.I)).first).to_be_visible()

    office.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Acknowledgements"
    ).click()
    row = office.get_by_role("row").filter(has_text=name).filter(has_text="CIRC-001")
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell").last).not_to_have_text("Not yet")


def test_d_office_posts_an_announcement_staff_read_it_and_the_digest_goes_out(demo, people):
    """(d) The office posts an announcement to all member staff in the admin; a member of
    staff sees it on the dashboard, and the worker sends it in their digest."""
    title = f"Courier resumes Monday ({demo.backend} {demo.tag})"
    office = people.sign_in(OFFICE, mfa=True)
    office.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    office.get_by_role("link", name="Announcements").first.click()
    office.get_by_role("link", name="Add child page").first.click()
    # Typed, not pasted: the page's address (slug) is made from the title as it is typed.
    office.get_by_role("textbox", name="Title*").press_sequentially(title)
    expect(office.locator("#id_slug")).not_to_have_value("")
    write_rich_text(
        office,
        office.locator(".Draftail-Editor [contenteditable=true]").first,
        "body",
        "Deliveries between member libraries resume on Monday.",
    )
    expect(office.get_by_role("combobox", name="Audience*")).to_have_value("everyone")
    office.get_by_role("button", name="Publish").click()
    reach = office.get_by_text(re.compile(rf"'{re.escape(title)}' reaches [\d,]+ people"))
    expect(reach).to_be_visible()

    email = demo.sql(
        "SELECT u.email FROM accounts_user u JOIN members_membership m ON m.user_id = u.id"
        " JOIN members_memberlibrary l ON l.id = m.library_id"
        " WHERE m.role = 'staff' AND l.depth = 2 ORDER BY l.path, u.email"
    )[0][0]
    staff = people.sign_in(email)
    panel = staff.locator('section.panel[data-plugin="announcements"]')
    expect(panel.get_by_role("link", name=title)).to_be_visible()
    # The periodic job (every minute in the demo) sends each person their digest; the
    # first one of a new demo goes to everybody at once, writers in parallel on SQLite.
    wait_for(
        lambda: any(f"To: {email}" in m and "Subject: Announcements: " in m for m in demo.mails()),
        timeout=150,
        what=f"the digest to {email}",
    )


def _libraries_with_patrons(demo, count: int) -> list[tuple[str, str]]:
    """Member libraries (top level) whose patrons will get email, as (code, name)."""
    rows = demo.sql(
        "SELECT l.code, l.name FROM members_memberlibrary l WHERE l.depth = 2 AND EXISTS ("
        " SELECT 1 FROM patron_notices_patron p JOIN members_memberlibrary b"
        " ON b.id = p.library_id WHERE b.path LIKE l.path || '%%' AND p.email <> '')"
        " ORDER BY l.path"
    )
    assert len(rows) >= count, "the demo seeds patrons in several member libraries"
    return rows[:count]


def test_e_a_patron_notice_from_draft_to_every_patron(demo, people):
    """(e) Communications staff draft a notice to every member's patrons; the office's
    deputy approves it; one director adds a local paragraph, another opts out; the office
    sends it; every patron gets one message branded as their library's, and the notice's
    page shows the progress to the end."""
    title = f"Holiday closing ({demo.backend} {demo.tag})"
    local = f"Our book drop stays open ({demo.tag})."
    comms = people.sign_in(COMMS)
    comms.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    comms.goto("/admin/notices/")
    comms.get_by_role("link", name="Add patron notice").first.click()
    comms.get_by_role("textbox", name="Title*").fill(title)
    comms.wait_for_load_state("networkidle")
    comms.get_by_role("button", name="Insert a block").first.click()
    comms.locator("#versions-0-value-language").select_option("en")
    comms.locator("#versions-0-value-subject").fill(
        f"Holiday closing at {{library_name}} ({demo.tag})"
    )
    # The new version's own "Insert a block" may still be starting when it appears: a click
    # then opens no menu, or a menu that adds nothing yet; a person clicks again until the
    # paragraph's editor is there.
    paragraph = comms.get_by_role("option", name="Paragraph")
    editor = comms.locator(".Draftail-Editor [contenteditable=true]")
    for _attempt in range(3):
        comms.get_by_role("button", name="Insert a block").nth(1).click()
        try:
            paragraph.wait_for(timeout=5_000)
            paragraph.click()
            editor.first.wait_for(timeout=5_000)
            break
        except PlaywrightTimeoutError:
            if editor.count():
                break
            comms.keyboard.press("Escape")  # a menu left open
    write_rich_text(
        comms,
        comms.locator(".Draftail-Editor [contenteditable=true]").first,
        "versions-0-value-body",
        "Dear {first_name}, every member library closes on 1 January.",
    )
    comms.get_by_role("button", name="More actions").click()
    comms.get_by_role("button", name="Submit to Patron notice approval").click()
    expect(comms.get_by_text("submitted for moderation")).to_be_visible()

    # The second pair of eyes: the deputy approves what communications drafted.
    deputy = people.sign_in(DEPUTY, mfa=True)
    deputy.goto("/admin/notices/")
    deputy.get_by_role("link", name=title).click()
    deputy.get_by_role("link", name="Review and approve").click()
    deputy.get_by_role("button", name="Approve for sending").click()
    deputy.get_by_role("link", name=title).click()
    expect(deputy.get_by_role("heading", level=1)).to_contain_text("Approved")
    notice_url = deputy.url

    (keep_code, keep_name), (out_code, out_name) = _libraries_with_patrons(demo, 2)
    for code, decision, paragraph in (
        (keep_code, "Approved for our patrons", local),
        (out_code, "Our patrons opt out of this one", ""),
    ):
        director = people.sign_in(f"director.{code}@example.org", mfa=True)
        director.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Patron notices"
        ).click()
        director.locator(f'tr[data-library="{code}"]').filter(has_text=title).get_by_role(
            "link", name=title
        ).click()
        expect(director.frame_locator("iframe.message-preview").locator("body")).to_contain_text(
            "every member library closes"
        )
        director.get_by_label(decision).check()
        if paragraph:
            director.get_by_label("Local paragraph").fill(paragraph)
        director.get_by_role("button", name="Save").click()
        expect(director.get_by_text("Saved.")).to_be_visible()

    office = people.sign_in(OFFICE, mfa=True)
    office.goto(notice_url)
    office.get_by_role("button", name="Schedule").click()  # no time given: now
    expect(office.locator('[data-field="sent"], #main')).not_to_have_count(0)

    def done():  # as the office would: look again until the worker has finished
        office.reload()
        return "Done" in office.get_by_role("heading", level=1).inner_text()

    wait_for(done, timeout=300, interval=3, what="the notice to be sent")

    notice_id = int(re.search(r"/admin/notices/(\d+)/", notice_url).group(1))
    planned, sent = demo.sql(
        "SELECT planned_count, (SELECT count(*) FROM patron_notices_delivery d"
        " WHERE d.notice_id = n.id AND d.state = 'sent') FROM patron_notices_notice n"
        " WHERE n.id = %s",
        (notice_id,),
    )[0]
    assert planned > 0 and sent == planned
    opted_out = demo.sql(
        "SELECT count(*) FROM patron_notices_delivery d"
        " JOIN members_memberlibrary l ON l.id = d.library_id"
        " JOIN members_memberlibrary o ON o.code = %s"
        " WHERE d.notice_id = %s AND l.path LIKE o.path || '%%'",
        (out_code, notice_id),
    )[0][0]
    assert opted_out == 0, "the library that opted out, and its branches, get nothing"
    messages = [m for m in demo.messages() if f"({demo.tag})" in m["Subject"]]
    recipients = [m["To"] for m in messages]
    assert len(messages) == planned, "one message per planned recipient"
    assert len(set(recipients)) == len(recipients), "nobody gets it twice"

    def text(message) -> str:
        return message.get_body(("plain",)).get_content()

    assert not any(m["Subject"].startswith(f"Holiday closing at {out_name} (") for m in messages)
    branded = [m for m in messages if m["Subject"].startswith(f"Holiday closing at {keep_name} (")]
    assert branded and all(local in text(m) for m in branded)
    assert not any("Dear ," in text(m) for m in messages)
    expect(office.locator("#main")).to_contain_text(f"{sent:,}".replace(",", ""))


def test_z_office_counts_the_vote_and_reads_the_minutes(demo, people, story):
    """(a, end) Once the window has ended the office closes and counts the vote; the
    results say it carried, and the minutes of the meeting that took it are a PDF."""
    if "proposal_url" not in story:
        pytest.fail("the vote was not opened (see the first journey)")
    left = (story["closes"] - datetime.now(LOCAL)).total_seconds()
    if left > 0:
        time.sleep(left + 1)
    office = people.sign_in(OFFICE, mfa=True)
    office.goto(story["proposal_url"])
    close = office.get_by_role("button", name="Close and count now")
    if close.count():  # beat may have counted it already
        close.click()
        office.get_by_role("button", name="Yes, close and count").click()
    office.get_by_role("link", name="Results").click()
    expect(office.locator(".outcome")).to_contain_text("Carried")
    # The meetings page lists each meeting with its minutes, as a PDF.
    office.get_by_role("navigation", name="Main").get_by_role("link", name="Meetings").click()
    minutes = office.get_by_role("link", name=re.compile(r"^Minutes of .* \(PDF\)$")).first
    response = office.request.get(minutes.get_attribute("href"))
    assert response.ok and response.body().startswith(b"%PDF-")
