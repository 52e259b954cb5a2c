"""The office's admin forms: a proposed change offers only the policy's own drafts."""

import pytest
from django.urls import reverse

from knowledge_base.policies.models import PolicyChange
from knowledge_base.policies.wagtail_hooks import ChangeForm
from portal.members.roles import CONSORTIUM_ADMIN
from tests import factories
from tests.factories import with_mfa

from .conftest import new_policy, revise

pytestmark = pytest.mark.django_db


@pytest.fixture
def office(consortium):
    return with_mfa(factories.member(consortium["root"], CONSORTIUM_ADMIN))


@pytest.fixture
def drafts(consortium, library_page):
    circ = new_policy(library_page)
    privacy = new_policy(library_page, code="PRIV-001", title="Patron privacy")
    published = revise(circ, ["Loans last four weeks."])  # published: no longer a draft
    stale = revise(privacy, ["Old idea."], publish=False)
    revise(privacy, ["Records kept one year."])  # published after ``stale``: it is overtaken
    circ_draft = revise(circ, ["Loans last five weeks."], publish=False)
    privacy_draft = revise(privacy, ["Records kept six months."], publish=False)
    return {
        "circ": circ,
        "privacy": privacy,
        "published": published,
        "stale": stale,
        "circ_draft": circ_draft,
        "privacy_draft": privacy_draft,
    }


def test_change_form_offers_only_the_policys_own_drafts(drafts):
    circ = drafts["circ"]
    form = ChangeForm(data={"policy": str(circ.pk)})
    offered = set(form.fields["revision"].queryset.values_list("pk", flat=True))
    assert offered == {drafts["circ_draft"].pk}
    # Before a policy is chosen: the drafts of every policy, and nothing published or stale.
    offered = set(ChangeForm().fields["revision"].queryset.values_list("pk", flat=True))
    assert offered == {drafts["circ_draft"].pk, drafts["privacy_draft"].pk}


@pytest.mark.parametrize("other", ["privacy_draft", "published"])
def test_change_form_refuses_another_policys_or_a_published_revision(drafts, other):
    form = ChangeForm(
        data={
            "policy": str(drafts["circ"].pk),
            "revision": str(drafts[other].pk),
            "status": PolicyChange.Status.PROPOSED,
        }
    )
    assert not form.is_valid()
    assert "revision" in form.errors


def test_change_form_saves_the_policys_draft(drafts):
    form = ChangeForm(
        data={
            "policy": str(drafts["circ"].pk),
            "revision": str(drafts["circ_draft"].pk),
            "status": PolicyChange.Status.COMMENT,
            "comment_until": "2030-01-31",
        }
    )
    assert form.is_valid(), form.errors
    change = form.save()
    assert change.revision_id == drafts["circ_draft"].pk


def test_admin_add_page_lists_only_drafts(client, office, drafts):
    client.force_login(office)
    response = client.get(reverse("policychange:add"))
    assert response.status_code == 200
    field = response.context["form"].fields["revision"]
    offered = set(field.queryset.values_list("pk", flat=True))
    assert offered == {drafts["circ_draft"].pk, drafts["privacy_draft"].pk}
