"""Builders for policy tests: they go through Wagtail's revisions and the plugin's services."""

from __future__ import annotations

import pytest
from wagtail.models import Page

from knowledge_base.policies.models import PolicyPage
from knowledge_base.policies.services.library import setup_policy_library
from tests import factories


def body(*clauses, heading="Loans"):
    """A body with one section and the given clauses."""
    blocks = [{"type": "section", "value": {"heading": heading, "intro": ""}}]
    blocks += [{"type": "clause", "value": f"<p>{text}</p>"} for text in clauses]
    return blocks


def policy_library():
    return setup_policy_library(Page.get_first_root_node())


def new_policy(library, code="CIRC-004", title="Lending and circulation", clauses=None, **fields):
    """A policy published as version 1."""
    page = PolicyPage(
        title=title,
        slug=code.lower(),
        code=code,
        body=body(*(clauses or ["Loans last three weeks.", "Two renewals are allowed."])),
        change_summary="First version.",
        **fields,
    )
    library.add_child(instance=page)
    page.save_revision().publish()
    page.refresh_from_db()
    return page


def revise(page, clauses, *, material=True, summary="Changed.", publish=True, **fields):
    """Save a new revision with different clauses; publish it unless told not to."""
    page = PolicyPage.objects.get(pk=page.pk).get_latest_revision_as_object()
    page.body = body(*clauses)
    page.change_is_material = material
    page.change_summary = summary
    for name, value in fields.items():
        setattr(page, name, value)
    revision = page.save_revision()
    if publish:
        revision.publish()
    return revision


@pytest.fixture
def consortium(db):
    tree = factories.tree(systems=2, branches=1)
    return tree


@pytest.fixture
def library_page(db):
    return policy_library()
