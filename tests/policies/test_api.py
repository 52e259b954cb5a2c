"""GET /api/v1/policies/...: the shared policies in force, for a library's own website.

Only published versions leave: never a draft, a proposed change or a local procedure (the
token's own library's included), and the text is the version's own snapshot."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from wagtail.documents import get_document_model

from knowledge_base.policies.models import PolicyCategory, PolicyChange, PolicyPage
from knowledge_base.policies.services.adoption import (
    check_open_change,
    do_decide_change,
    do_open_change,
    publish_due_changes,
)
from knowledge_base.policies.services.procedures import do_save_local_procedure
from portal.api import services as api_services
from portal.members.models import LibraryPluginSwitch
from portal.members.roles import CONSORTIUM_ADMIN
from tests import factories
from tests.api_support import api_token, bearer_get, fresh_rate_limits  # noqa: F401 - fresh_rate_limits: autouse

from .conftest import body, new_policy, policy_library, revise

URL = "/api/v1/policies/"


@pytest.fixture
def world(db):
    tree = factories.tree(systems=2, branches=1)
    tree["office"] = factories.member(tree["root"], CONSORTIUM_ADMIN)
    tree["policies"] = policy_library()
    return tree


def token_for(world, library, scopes=("policies:read",)):
    return api_token(world["office"], library, scopes)


def get(client, token, url=URL):
    return bearer_get(client, token, url)


def ok(response):
    assert response.status_code == 200, response.content
    return response.json()


def publish_blocks(world, code, blocks, title=None, **fields):
    """A policy published as version 1 with the given raw body blocks."""
    page = PolicyPage(
        title=title or f"Policy {code}",
        slug=code.lower(),
        code=code,
        body=blocks,
        change_summary="First version.",
        **fields,
    )
    world["policies"].add_child(instance=page)
    page.save_revision().publish()
    page.refresh_from_db()
    return page


def test_scope_switch_and_token_are_required(client, world):
    new_policy(world["policies"])
    urls = [URL, f"{URL}CIRC-004", f"{URL}CIRC-004/versions"]
    for url in urls:
        assert client.get(url).status_code == 401
        assert get(client, "cnc_nope_nope", url).status_code == 401
    library_only = token_for(world, world["systems"][0], scopes=("library:read",))
    for url in urls:
        response = get(client, library_only, url)
        assert response.status_code == 403
        assert "policies:read" in response.json()["detail"]
    token = token_for(world, world["branches"][0])
    for url in urls:
        assert get(client, token, url).status_code == 200
    # Switched off at the system: its branch's token gets nothing; the other system's does.
    LibraryPluginSwitch.objects.create(library=world["systems"][0], plugin="policies")
    for url in urls:
        assert get(client, token, url).status_code == 404
    other = token_for(world, world["systems"][1])
    assert get(client, other).status_code == 200


def test_the_current_version_of_each_live_policy(client, world):
    privacy = PolicyCategory.objects.create(name="Privacy", slug="privacy", order=1)
    loans = PolicyCategory.objects.create(name="Circulation", slug="circulation", order=0)
    circ = new_policy(
        world["policies"], summary="How long loans last.", category=loans, code="CIRC-004"
    )
    revise(circ, ["Loans last four weeks.", "Two renewals are allowed."], summary="Longer.")
    new_policy(world["policies"], code="PRIV-001", title="Patron privacy", category=privacy)
    new_policy(world["policies"], code="CONDUCT-01", title="Code of conduct")
    data = ok(get(client, token_for(world, world["branches"][1])))
    assert data["count"] == 3
    # In the policy library's order: uncategorised last, then by code.
    assert [i["code"] for i in data["items"]] == ["CIRC-004", "PRIV-001", "CONDUCT-01"]
    item = data["items"][0]
    assert set(item) == {
        "code",
        "title",
        "category",
        "summary",
        "version",
        "material",
        "effective_date",
        "published_at",
        "next_review_date",
        "text",
        "body",
        "url",
    }
    assert item["version"] == 2
    assert item["category"] == {"slug": "circulation", "name": "Circulation"}
    assert item["summary"] == "How long loans last."
    assert item["text"].splitlines() == [
        "1. Loans",
        "1.1 Loans last four weeks.",
        "1.2 Two renewals are allowed.",
    ]
    assert "four weeks" in item["body"] and "three weeks" not in item["body"]
    assert item["url"] == "http://testserver" + reverse("policies:version", args=["CIRC-004", 2])
    circ.refresh_from_db()
    assert item["next_review_date"] == circ.next_review_date.isoformat()
    assert data["items"][2]["category"] is None
    only_privacy = ok(get(client, token_for(world, world["root"]), URL + "?category=privacy"))
    assert [i["code"] for i in only_privacy["items"]] == ["PRIV-001"]
    detail = ok(get(client, token_for(world, world["root"]), URL + "CIRC-004"))
    assert detail == item


def test_drafts_and_unpublished_policies_never_leave(client, world):
    page = new_policy(world["policies"])
    # A draft saved on the live policy, and one opened for comment as a proposed change.
    draft = revise(
        page, ["Loans last one day."], summary="Draft change.", publish=False, title="Draft title"
    )
    # A later draft that also changes the summary and the category.
    editing = PolicyPage.objects.get(pk=page.pk).get_latest_revision_as_object()
    editing.summary = "Draft summary"
    editing.category = PolicyCategory.objects.create(name="Draft shelf", slug="draft-shelf")
    draft = editing.save_revision()
    live = PolicyPage.objects.get(pk=page.pk)
    assert check_open_change(world["office"], live) == draft
    do_open_change(world["office"], live, draft)
    # Never published at all, and published then withdrawn.
    never = PolicyPage(
        title="Secret draft", slug="new-001", code="NEW-001", body=body("Hidden."), live=False
    )
    world["policies"].add_child(instance=never)
    never.save_revision()
    gone = new_policy(world["policies"], code="GONE-001", title="Withdrawn policy")
    PolicyPage.objects.get(pk=gone.pk).unpublish()

    token = token_for(world, world["systems"][0])
    responses = [
        get(client, token),
        get(client, token, URL + "CIRC-004"),
        get(client, token, URL + "CIRC-004/versions"),
    ]
    for response in responses:
        assert response.status_code == 200
        text = response.content.decode()
        for secret in (
            "one day",
            "Draft title",
            "Draft change",
            "Draft summary",
            "Draft shelf",
            "Secret draft",
            "Withdrawn",
        ):
            assert secret not in text
    assert [i["code"] for i in responses[0].json()["items"]] == ["CIRC-004"]
    assert responses[1].json()["title"] == "Lending and circulation"
    assert [v["version"] for v in responses[2].json()["items"]] == [1]
    for code in ("NEW-001", "GONE-001"):
        assert get(client, token, URL + code).status_code == 404
        assert get(client, token, URL + code + "/versions").status_code == 404


def test_an_adopted_change_shows_from_its_effective_date(client, world):
    page = new_policy(world["policies"])
    later = timezone.localdate() + timedelta(days=30)
    draft = revise(page, ["Loans last six weeks."], summary="Longer loans.", publish=False)
    live = PolicyPage.objects.get(pk=page.pk)
    check_open_change(world["office"], live)
    change = do_open_change(world["office"], live, draft, effective_date=later)
    change = do_decide_change(change, "passed")
    assert change.status == PolicyChange.Status.SCHEDULED
    token = token_for(world, world["systems"][0])

    def shown():
        current = ok(get(client, token, URL + "CIRC-004"))
        history = ok(get(client, token, URL + "CIRC-004/versions"))["items"]
        return current["version"], "six weeks" in current["body"], [v["version"] for v in history]

    assert shown() == (1, False, [1])
    assert publish_due_changes(today=later)
    assert shown() == (2, True, [2, 1])
    current = ok(get(client, token, URL + "CIRC-004"))
    assert current["effective_date"] == later.isoformat()


def test_no_local_procedure_leaves_not_even_the_own_librarys(client, world):
    page = new_policy(world["policies"])
    own, other = world["systems"][0], world["systems"][1]
    do_save_local_procedure(None, page, own, "Our keys are in the red box.")
    do_save_local_procedure(None, page, other, "Their alarm code is 1234.")
    do_save_local_procedure(None, page, world["branches"][1], "Branch safe: left.")
    token = token_for(world, own)
    for url in (URL, URL + "CIRC-004", URL + "CIRC-004/versions"):
        response = get(client, token, url)
        assert response.status_code == 200
        text = response.content.decode()
        for secret in ("red box", "1234", "Branch safe"):
            assert secret not in text


def test_version_history(client, world):
    page = new_policy(world["policies"])
    revise(page, ["Loans last three weeks!", "Two renewals are allowed."], material=False)
    revise(page, ["Loans last two weeks."], summary="Shorter loans.", title="Lending")
    revise(page, ["Loans last a year."], publish=False, summary="Not yet.")
    data = ok(get(client, token_for(world, world["branches"][0]), URL + "CIRC-004/versions"))
    assert data["count"] == 3
    items = data["items"]
    assert [v["version"] for v in items] == [3, 2, 1]
    assert [v["material"] for v in items] == [True, False, True]
    assert [v["change_summary"] for v in items] == ["Shorter loans.", "Changed.", "First version."]
    assert [v["title"] for v in items] == [
        "Lending",
        "Lending and circulation",
        "Lending and circulation",
    ]
    assert items[0]["url"] == "http://testserver" + reverse(
        "policies:version", args=["CIRC-004", 3]
    )
    assert set(items[0]) == {
        "version",
        "title",
        "effective_date",
        "published_at",
        "change_summary",
        "material",
        "url",
    }
    page2 = ok(
        get(client, token_for(world, world["root"]), URL + "CIRC-004/versions?limit=1&offset=1")
    )
    assert [v["version"] for v in page2["items"]] == [2]
    current = ok(get(client, token_for(world, world["root"]), URL + "CIRC-004"))
    assert (current["version"], current["title"]) == (3, "Lending")
    assert "two weeks" in current["body"] and "a year" not in current["body"]


def test_body_is_numbered_html_with_links_expanded(client, world):
    home = factories.ensure_site().root_page
    document = get_document_model().objects.create(
        title="Fee schedule", file=ContentFile(b"%PDF-1.4", name="fees.pdf")
    )
    blocks = [
        {"type": "section", "value": {"heading": "Fees & fines", "intro": "<p>Intro.</p>"}},
        {"type": "clause", "value": f'<p>See <a linktype="page" id="{home.pk}">home</a>.</p>'},
        {"type": "callout", "value": {"kind": "warning", "text": "<p>Careful.</p>"}},
        {"type": "document", "value": {"document": document.pk, "label": ""}},
        {
            "type": "table",
            "value": {
                "data": [["Item", "Fee"], ["Book", "<1"]],
                "first_row_is_table_header": True,
                "first_col_is_header": False,
            },
        },
    ]
    publish_blocks(world, "FEES-001", blocks)
    html = ok(get(client, token_for(world, world["systems"][0]), URL + "FEES-001"))["body"]
    assert "linktype" not in html
    assert "<h2" in html and "1. Fees &amp; fines</h2>" in html
    assert '<span class="clause-number">1.1</span>' in html
    assert f'href="{home.url}"' in html
    assert f'href="{document.url}">Fee schedule</a>' in html
    assert "callout-warning" in html and "Careful." in html
    assert "<th>Item</th>" in html and "<td>&lt;1</td>" in html


@pytest.mark.slow
def test_queries_do_not_grow_with_the_policies(client, world):
    home = factories.ensure_site().root_page
    category = PolicyCategory.objects.create(name="Circulation", slug="circulation")
    token = token_for(world, world["branches"][0])
    get(client, token)  # the token's last use is stamped once

    def add(start, n):
        for i in range(start, start + n):
            document = get_document_model().objects.create(
                title=f"Form {i}", file=ContentFile(b"x", name=f"form{i}.pdf")
            )
            page = publish_blocks(
                world,
                f"CIRC-{i:03d}",
                [
                    {"type": "section", "value": {"heading": "Loans", "intro": ""}},
                    {
                        "type": "clause",
                        "value": f'<p><a linktype="page" id="{home.pk}">home</a></p>',
                    },
                    {"type": "document", "value": {"document": document.pk, "label": ""}},
                ],
                category=category,
            )
            revise(page, [f"Version two of {i}."], material=False)

    def queries(url):
        with CaptureQueriesContext(connection) as ctx:
            data = ok(get(client, token, url))
        return len(ctx.captured_queries), data["count"]

    add(1, 2)
    queries(URL)  # the site's root paths are cached on first use
    few = [queries(URL), queries(URL + "CIRC-001/versions")]
    assert [count for _n, count in few] == [2, 2]
    add(3, 6)
    many = [queries(URL), queries(URL + "CIRC-001/versions")]
    assert [count for _n, count in many] == [8, 2]
    assert [n for n, _c in many] == [n for n, _c in few]


@pytest.mark.parametrize("code", ["NOPE-001", "circ-004", "CIRC-004x", "%00", "a b"])
def test_an_unknown_code_is_not_found(client, world, code):
    new_policy(world["policies"])
    token = token_for(world, world["systems"][0])
    assert get(client, token, URL + code).status_code == 404
    assert get(client, token, URL + code + "/versions").status_code == 404


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "offset=-1", f"offset={2**63}", f"limit={10**25}"]
)
def test_page_bounds_are_refused_not_a_server_error(client, world, query):
    new_policy(world["policies"])
    token = token_for(world, world["systems"][0])
    assert get(client, token, f"{URL}?{query}").status_code == 422
    assert get(client, token, f"{URL}CIRC-004/versions?{query}").status_code == 422


def test_the_schema_lists_the_endpoints_and_scope(client, world):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {URL, URL + "{code}", URL + "{code}/versions"} <= set(paths)
    assert "policies:read" in api_services.known_scopes()
