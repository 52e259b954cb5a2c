"""Local procedures and search respect who may see what."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from knowledge_base.policies.models import PolicyCategory, PolicyPage
from knowledge_base.policies.services.procedures import (
    check_local_procedure,
    do_save_local_procedure,
)
from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF
from tests import factories
from tests.factories import with_mfa

from .conftest import new_policy, revise

pytestmark = pytest.mark.django_db


def page_html(client, user, code="CIRC-004"):
    client.force_login(user)
    response = client.get(reverse("policies:detail", args=[code]))
    assert response.status_code == 200
    return response.content.decode()


def test_local_procedure_is_seen_by_own_staff_and_office_only(client, consortium, library_page):
    page = new_policy(library_page)
    mine, other = consortium["systems"]
    director = with_mfa(factories.member(mine, DIRECTOR))
    check_local_procedure(director, page, mine, "x")
    do_save_local_procedure(director, page, mine, "Keys are kept at the front desk.")
    own_staff = factories.member(mine, STAFF)
    branch_staff = factories.member(consortium["branches"][0], STAFF)  # a branch of `mine`
    other_staff = factories.member(other, STAFF)
    office = with_mfa(factories.member(consortium["root"], CONSORTIUM_ADMIN))
    assert "Keys are kept at the front desk." in page_html(client, own_staff)
    assert "Keys are kept at the front desk." in page_html(client, branch_staff)
    assert "Keys are kept at the front desk." in page_html(client, office)
    assert "Keys are kept at the front desk." not in page_html(client, other_staff)
    # Nor can another library's director write one for them.
    other_director = with_mfa(factories.member(other, DIRECTOR))
    with pytest.raises(PermissionDenied):
        check_local_procedure(other_director, page, mine, "mine now")
    client.force_login(other_director)
    url = reverse("policies:local_procedure", args=[page.code, mine.code])
    assert client.post(url, {"text": "mine now"}).status_code == 403
    assert client.get(url).status_code == 403
    # The shared text is untouched.
    assert "Keys" not in PolicyPage.objects.get(pk=page.pk).body_text


def test_search_finds_by_code_title_body_and_tag(client, consortium, library_page):
    page = new_policy(library_page, clauses=["Overdue items accrue no fines for children."])
    page.tags.add("fines")
    page.save_revision().publish()
    new_policy(library_page, code="PRIV-001", title="Patron privacy", clauses=["We keep no logs."])
    staff = factories.member(consortium["systems"][0], STAFF)
    client.force_login(staff)

    def found(query, **params):
        html = client.get(reverse("policies:index"), {"q": query, **params}).content.decode()
        return [code for code in ("CIRC-004", "PRIV-001") if f"{code} ·" in html]

    assert found("privacy") == ["PRIV-001"]
    assert found("children") == ["CIRC-004"]
    assert found("fines") == ["CIRC-004"]
    assert found("PRIV-001") == ["PRIV-001"]


def test_search_hides_drafts_and_other_libraries_procedures(client, consortium, library_page):
    page = new_policy(library_page)
    draft = PolicyPage(
        title="Zebra crossing rules", slug="safe-001", code="SAFE-001", body=[], live=False
    )
    library_page.add_child(instance=draft)
    draft.save_revision()  # never published
    revise(page, ["Loans last three weeks.", "Unicorn rule in a draft."], publish=False)
    mine, other = consortium["systems"]
    do_save_local_procedure(None, page, mine, "Walrus procedure for our desk.")
    staff_other = factories.member(other, STAFF)
    staff_mine = factories.member(mine, STAFF)
    office = with_mfa(factories.member(consortium["root"], CONSORTIUM_ADMIN))

    def html(user, query, **params):
        client.force_login(user)
        return client.get(reverse("policies:index"), {"q": query, **params}).content.decode()

    assert "Zebra" not in html(staff_mine, "zebra")
    assert "Zebra" not in html(staff_mine, "zebra", status="draft")  # staff never see drafts
    assert "Zebra" in html(office, "zebra", status="draft")
    assert "CIRC-004" not in html(staff_mine, "unicorn")  # the draft text is not public
    assert "Walrus" not in html(staff_other, "walrus") and mine.name not in html(
        staff_other, "walrus"
    )
    assert mine.name in html(staff_mine, "walrus")
    assert mine.name in html(office, "walrus")


def test_category_filter_and_readers_only(client, consortium, library_page):
    fines = PolicyCategory.objects.create(name="Fines", slug="fines")
    new_policy(library_page, category=fines)
    new_policy(library_page, code="PRIV-001", title="Patron privacy")
    staff = factories.member(consortium["systems"][0], STAFF)
    client.force_login(staff)
    html = client.get(reverse("policies:index"), {"category": "fines"}).content.decode()
    assert "CIRC-004 ·" in html and "PRIV-001 ·" not in html
    stranger = factories.person()
    client.force_login(stranger)
    assert client.get(reverse("policies:index")).status_code == 403
    assert client.get(reverse("policies:detail", args=["CIRC-004"])).status_code == 403
