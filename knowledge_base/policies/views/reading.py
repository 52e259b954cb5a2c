"""Reading the policies: the index and search, a policy (also served through Wagtail's
page tree), a version by its citation, and what changed between two."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone

from portal import access
from portal.home.kept import kept_part, kept_value
from portal.members.models import MemberLibrary

from .. import selectors
from ..blocks import numbered
from ..models import PolicyCategory, PolicyPage, PolicyVersion
from ..selectors import LABEL
from ..services.acknowledgement import acknowledging_library
from .common import live_policy, policy_version, require_reader


def _procedure_libraries(user) -> list[MemberLibrary]:
    """The person's own libraries where they may write a local procedure (one query, none
    for those who may write one nowhere)."""
    own = {m.library_id: m.library for m in access.memberships_of(user)}
    perm = "policies.add_local_procedure"
    # Most people hold the permission nowhere, which the request already knows (the
    # navigation asks the same): no query for them.
    if not own or perm not in access.permissions_anywhere(user):
        return []
    allowed = set(access.libraries_for(user, perm).filter(pk__in=own).values_list("pk", flat=True))
    return [lib for pk, lib in own.items() if pk in allowed and not lib.is_consortium]


def render_policy(request, page: PolicyPage):
    """The policy with its current version, local procedures and acknowledgement state.

    Reached by the portal's address and through Wagtail's page tree (``wagtail_hooks``);
    the editor's preview renders the page's own context (``PolicyPage.get_context``).
    """
    if not request.user.is_authenticated:
        return redirect(f"{settings_login_url()}?next={request.path}")
    require_reader(request)
    user = request.user
    # The policy's campaigns are kept between visits, as its text is; whether this person
    # still owes an acknowledgement is worked out on every visit.
    campaigns = kept_value(
        LABEL, "campaigns", lambda: selectors.active_campaigns_of(page), vary=(page.pk,)
    )
    for campaign in campaigns:
        campaign.policy = page
    outstanding = selectors.outstanding_for(user, [page.pk], campaigns=campaigns)
    item = outstanding[0] if outstanding else None
    # The acknowledgement asked of the person reads the version here; the parts everyone
    # reads are kept (below) and read it only when they are worked out.
    version = selectors.current_version(page) if item else None
    quiz = None
    if item and item.campaign.quiz_key:
        try:
            library = acknowledging_library(user)
        except PermissionDenied:
            library = None
        if library is not None:
            quiz = selectors.reading_quiz(item.campaign.quiz_key, library, user)
    diff = None
    if item and item.acknowledged_number and version:
        # A material change since they last acknowledged: show them exactly what changed.
        old = PolicyVersion.objects.filter(policy=page, number=item.acknowledged_number).first()
        diff = selectors.diff_versions(old, version) if old else None
    context = page.get_context(request)
    context.update(
        outstanding=item,
        quiz=quiz,
        diff=diff,
        procedure_libraries=_procedure_libraries(user),
        may_manage=selectors.may_manage(user),
    )

    def kept(name, template_name, personal, **more):
        def work_out():
            found = version or selectors.current_version(page)
            extra = {key: read() for key, read in more.items()}
            html = render_to_string(template_name, {**context, "version": found, **extra}, request)
            return (html if html.strip() else ""), None  # nothing to show: the page asks

        return kept_part(request, LABEL, name, work_out, personal=personal, vary=(page.pk,))

    # Kept between visits (portal.home.kept): the policy's version line and text, as
    # everyone reads them, and the local procedures this person may read.
    context.update(
        kept=True,  # the editor's preview renders the parts in place
        version=version,
        policy_meta=kept("policy-meta", "policies/_meta.html", False),
        policy_text=kept("policy-text", "policies/_text.html", False),
        procedures=kept(
            "procedures",
            "policies/_procedures.html",
            True,
            procedures=lambda: selectors.local_procedures(user, page),
        ),
    )
    return render(request, page.get_template(request), context)


def settings_login_url():
    from django.conf import settings
    from django.shortcuts import resolve_url

    return resolve_url(settings.LOGIN_URL)


@login_required
def index(request):
    """Browse and search the policies the person may read."""
    require_reader(request)
    user = request.user
    query = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    category = request.GET.get("category", "")
    may_manage = selectors.may_manage(user)
    pages = selectors.readable_policies(user, include_drafts=status == "draft")
    if status == "draft":
        pages = pages.filter(has_unpublished_changes=True) if may_manage else pages.none()
    elif status == "overdue":
        pages = pages.filter(next_review_date__lt=timezone.localdate())
    categories = list(PolicyCategory.objects.all())
    chosen = next((c for c in categories if c.slug == category), None)
    if chosen:
        pages = pages.filter(category=chosen)
    procedures = []
    if query:
        # Full-text parsing splits a code like CIRC-004; an exact code is looked up directly.
        exact = list(pages.filter(code__iexact=query))
        results = exact + [p for p in pages.search(query) if p not in exact]
        procedures = selectors.search_procedures(user, query)
    else:
        results = list(pages.select_related("category").order_by(*selectors.LIBRARY_ORDER))
    return render(
        request,
        "policies/index.html",
        {
            "results": results,
            "procedures": procedures,
            "query": query,
            "categories": categories,
            "category": chosen,
            "status": status,
            "may_manage": may_manage,
        },
    )


@login_required
def detail(request, code):
    return render_policy(request, live_policy(code))


@login_required
def version(request, code, number):
    require_reader(request)
    page = live_policy(code)
    shown = policy_version(page, number)
    versions = selectors.versions_of(page)
    return render(
        request,
        "policies/version_detail.html",
        {
            "page": page,
            "version": shown,
            "blocks": numbered(shown.stream),
            "versions": versions,
            "is_current": versions and versions[0].pk == shown.pk,
        },
    )


@login_required
def compare(request, code):
    """What changed between any two versions, as a readable diff of the text."""
    require_reader(request)
    page = live_policy(code)
    versions = selectors.versions_of(page)
    if not versions:
        raise Http404
    by_number = {v.number: v for v in versions}
    try:
        new = by_number[int(request.GET.get("to", versions[0].number))]
        default_old = max(new.number - 1, 1)
        old = by_number[int(request.GET.get("from", default_old))]
    except (KeyError, ValueError) as exc:
        raise Http404 from exc
    return render(
        request,
        "policies/compare.html",
        {
            "page": page,
            "old": old,
            "new": new,
            "versions": versions,
            "lines": selectors.diff_versions(old, new),
        },
    )
