"""Thin views: each checks access on the server, then calls a selector or a service."""

from __future__ import annotations

import time
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from portal.home.kept import kept_part
from portal.members.models import MemberLibrary

from . import tally
from .forms import (
    BallotForm,
    CommentForm,
    DelegationForm,
    ManageForm,
    ReceiptLookupForm,
    RegisterFilterForm,
    RevokeDelegationForm,
)
from .models import Delegation, Meeting, Proposal
from .rules import can_manage
from .selectors import proposals as proposal_reads
from .selectors.minutes import meetings_of, minutes_context
from .selectors.results import chart_bars, option_labels, public_ballots, sealed_record
from .selectors.voters import delegations_page, may_view
from .services.ballots import cast_ballot
from .services.closing import close_proposal
from .services.comments import do_comment
from .services.delegations import do_name_delegate, do_revoke_delegate
from .services.electorate import electorate
from .services.errors import GovernanceError, NotAllowed
from .services.proposals import do_extend_window, do_open_proposal, do_withdraw_proposal
from .services.receipts import fingerprint

# Lists that grow with the consortium are paged, never cut.
PAGE_SIZE = 50

YES_NO_CHOICES = [
    (tally.YES, _lazy("Yes")),
    (tally.NO, _lazy("No")),
    (tally.ABSTAIN, _lazy("Abstain")),
    (tally.RECUSE, _lazy("Recuse")),
]


def _viewer(request) -> None:
    if not may_view(request.user):
        raise PermissionDenied


def _proposal(request, pk: int) -> Proposal:
    _viewer(request)
    proposal = get_object_or_404(Proposal.objects.select_related("committee"), pk=pk)
    if proposal.state == Proposal.State.DRAFT and not can_manage(request.user):
        raise Http404
    return proposal


def _page_number(asked: str | None) -> int:
    """The page of the list asked for: a number from 1, anything else the first. The kept
    table is keyed by it, so addresses that ask for the same page share one entry."""
    try:
        return max(int(asked), 1)
    except (TypeError, ValueError):
        return 1


@login_required
def proposal_list(request):
    _viewer(request)
    manager = can_manage(request.user)
    number = _page_number(request.GET.get("page"))
    # Read only when the table is worked out (not when it was kept).
    proposals = SimpleLazyObject(
        lambda: Paginator(
            proposal_reads.proposal_list(request.user, include_drafts=manager), PAGE_SIZE
        ).get_page(number)
    )

    def table():
        html = render_to_string(
            "governance/_proposal_table.html", {"proposals": proposals}, request
        )
        return html, None

    def waiting():
        votes = proposal_reads.open_votes(request.user)
        html = render_to_string("governance/_open_votes.html", {"open_votes": votes}, request)
        # A vote leaves the list when its window ends, with nothing written.
        return html, min((v.proposal.closes_at for v in votes), default=None)

    return render(
        request,
        "governance/proposal_list.html",
        {
            "proposals": proposals,
            # Kept between visits (portal.home.kept): the table is the same for everyone
            # who sees drafts or everyone who does not; the open votes are the person's.
            "proposal_table": kept_part(
                request, "governance", "proposals", table, personal=False, vary=(manager, number)
            ),
            "open_votes": kept_part(request, "governance", "open-votes", waiting, personal=True),
        },
    )


def _detail(request, proposal: Proposal, *, manage_form=None, comment_form=None, status=200):
    page = proposal_reads.proposal_page(request.user, proposal)
    return render(
        request,
        "governance/proposal_detail.html",
        {
            "page": page,
            "proposal": proposal,
            "accepting": proposal.accepting_ballots(),
            "meetings": meetings_of(proposal),
            "window_ended": bool(proposal.closes_at and proposal.closes_at <= timezone.now()),
            "labels": option_labels(proposal, page.options),
            "yes_no": YES_NO_CHOICES,
            "extend_form": manage_form or ManageForm(initial={"action": "extend"}),
            "comment_form": comment_form or CommentForm(),
        },
        status=status,
    )


@login_required
def proposal_detail(request, pk):
    return _detail(request, _proposal(request, pk))


def choice_from_post(proposal: Proposal, data):
    """The ballot's choice from the form: a keyword, an option, a list of options or a ranking."""
    choice = data.get("choice", "")
    if choice in (tally.ABSTAIN, tally.RECUSE):
        return choice
    if proposal.kind == tally.APPROVAL:
        return data.getlist("choice")
    if proposal.kind == tally.RANKED:
        ranking = []
        for position in range(1, 50):
            key = data.get(f"rank_{position}")
            if key is None:
                break
            if key:
                ranking.append(key)
        return ranking
    return choice


@login_required
@require_POST
def vote(request, pk):
    # No separate read of the proposal or view check: casting checks the voting authority
    # (stronger than viewing) and reads the proposal once, under its lock. A draft is
    # refused there as "not open".
    form = BallotForm(request.POST)
    if not form.is_valid():
        # Only a hand-made request lacks the library: the page always sends it.
        raise PermissionDenied
    try:
        ballot, code = cast_ballot(
            request.user,
            pk,
            form.cleaned_data["library"],
            lambda proposal: choice_from_post(proposal, request.POST),
            receipt=form.cleaned_data["receipt"] or None,
        )
    except NotAllowed as refusal:
        raise PermissionDenied(str(refusal)) from refusal
    except GovernanceError as refusal:
        messages.error(request, str(refusal))
        return redirect("governance:proposal", pk)
    # The receipt is shown once and kept nowhere: not in the session, not in the database.
    return render(
        request,
        "governance/receipt.html",
        {
            "proposal": ballot.proposal,
            "ballot": ballot,
            "code": code,
            "fingerprint": fingerprint(code),
        },
    )


@login_required
@require_POST
def comment(request, pk):
    proposal = _proposal(request, pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _detail(request, proposal, comment_form=form, status=400)
    try:
        do_comment(request.user, proposal, form.cleaned_data["body"])
    except GovernanceError as refusal:
        form.add_error("body", str(refusal))
        return _detail(request, proposal, comment_form=form, status=400)
    return redirect(proposal)


def _final(request, pk) -> Proposal:
    proposal = _proposal(request, pk)
    if not proposal.is_final:
        raise Http404(_("The results are published when the vote closes."))
    return proposal


@login_required
def results(request, pk):
    proposal = _final(request, pk)
    labels = option_labels(proposal)  # read once for the chart and the table
    return render(
        request,
        "governance/results.html",
        {
            "proposal": proposal,
            "result": proposal.result,
            "bars": chart_bars(proposal, labels=labels),
            "labels": labels,
            "meetings": meetings_of(proposal),
        },
    )


@login_required
def chart(request, pk):
    proposal = _final(request, pk)
    return render(
        request,
        "governance/chart.svg",
        {"proposal": proposal, "bars": chart_bars(proposal)},
        content_type="image/svg+xml",
    )


@login_required
def ballot_list(request, pk):
    proposal = _final(request, pk)
    looked_up = None
    form = ReceiptLookupForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        looked_up = fingerprint(form.cleaned_data["receipt"])
    return render(
        request,
        "governance/ballot_list.html",
        {
            "proposal": proposal,
            "rows": public_ballots(proposal),
            "labels": option_labels(proposal),
            "looked_up": looked_up,
            "form": form,
        },
    )


@login_required
def ballot_record(request, pk):
    """A sealed proposal's ballots and the proof of their sums, for anyone to recount."""
    proposal = _final(request, pk)
    if not proposal.sealed:
        raise Http404(_("Only a secret ballot has a sealed record."))
    response = JsonResponse(sealed_record(proposal), json_dumps_params={"indent": 1})
    response["Content-Disposition"] = f'attachment; filename="proposal-{pk}-ballots.json"'
    return response


# The printed register is for the archive: far more rows than a page shows.
REGISTER_PDF_ROWS = 2000


@login_required
def register(request):
    """The resolution register; ``?format=pdf``: as an archival PDF (PDF/A-2a, PDF/UA-1)."""
    _viewer(request)
    form = RegisterFilterForm(request.GET)
    filters = form.filters()
    if request.GET.get("format") == "pdf":
        from portal.pdf import render_pdf

        proposals = list(proposal_reads.register(**filters)[: REGISTER_PDF_ROWS + 1])
        context = {
            "proposals": proposals[:REGISTER_PDF_ROWS],
            "truncated": len(proposals) > REGISTER_PDF_ROWS,
            "filters": filters,
            "today": timezone.localdate(),
        }
        response = HttpResponse(
            render_pdf("governance/pdf/register.html", context), content_type="application/pdf"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="resolution-register-{timezone.localdate():%Y%m%d}.pdf"'
        )
        return response
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "governance/register.html",
        {
            "proposals": Paginator(proposal_reads.register(**filters), PAGE_SIZE).get_page(
                request.GET.get("page")
            ),
            "form": form,
            "query": query.urlencode(),
        },
    )


@login_required
def proxies(request):
    libraries, delegations, mine = delegations_page(request.user)
    if not libraries and not mine:
        raise PermissionDenied
    allowed = MemberLibrary.objects.filter(pk__in=[library.pk for library in libraries])
    form = DelegationForm(libraries=allowed)
    if request.method == "POST":
        try:
            if "revoke" in request.POST:
                revoke = RevokeDelegationForm(request.POST)
                if not revoke.is_valid():
                    raise Http404
                delegation = get_object_or_404(Delegation, pk=revoke.cleaned_data["revoke"])
                do_revoke_delegate(request.user, delegation)
                messages.success(request, _("The proxy was revoked."))
                return redirect("governance:proxies")
            form = DelegationForm(request.POST, libraries=allowed)
            if form.is_valid():
                data = form.cleaned_data
                do_name_delegate(
                    request.user,
                    data["library"],
                    form.person,
                    data["kind"],
                    data["starts_on"],
                    data["ends_on"],
                )
                messages.success(request, _("Named."))
                return redirect("governance:proxies")
        except NotAllowed as refusal:
            raise PermissionDenied(str(refusal)) from refusal
        except GovernanceError as refusal:
            form.add_error(None, str(refusal))
    return render(
        request,
        "governance/proxies.html",
        {
            "libraries": libraries,
            "delegations": Paginator(delegations, PAGE_SIZE).get_page(request.GET.get("page")),
            "mine": mine,
            "form": form,
        },
        status=400 if form.errors else 200,
    )


# The office's actions that cannot be undone ask once more, on a page that says what follows.
CONFIRMED_ACTIONS = ("open", "close", "withdraw")


@login_required
@require_POST
def manage(request, pk):
    """The office's actions on a proposal: open, extend (with a reason), withdraw, close."""
    proposal = get_object_or_404(Proposal, pk=pk)
    if not can_manage(request.user):
        raise PermissionDenied
    form = ManageForm(request.POST)
    if not form.is_valid():
        if form.data.get("action") == "extend":
            return _detail(request, _proposal(request, pk), manage_form=form, status=400)
        messages.error(request, _("Unknown action."))
        return redirect(proposal)
    action, reason = form.cleaned_data["action"], form.cleaned_data["reason"]
    if action in CONFIRMED_ACTIONS and not form.confirmed_yes:
        return render(
            request,
            "governance/confirm.html",
            {
                "proposal": proposal,
                "action": action,
                "reason": reason,
                "electorate_size": electorate(proposal).count() if action == "open" else None,
            },
        )
    try:
        if action == "open":
            do_open_proposal(request.user, proposal)
            messages.success(request, _("The vote is open. Directors have been notified."))
        elif action == "extend":
            closes_at = form.cleaned_data["closes_at"]
            if timezone.is_naive(closes_at):
                closes_at = timezone.make_aware(closes_at)
            do_extend_window(request.user, proposal, closes_at, reason)
            messages.success(request, _("The window was extended."))
        elif action == "withdraw":
            do_withdraw_proposal(request.user, proposal, reason)
            messages.success(request, _("The proposal was withdrawn."))
        else:
            if proposal.closes_at and proposal.closes_at > timezone.now():
                raise GovernanceError(_("The window has not ended yet."))
            close_proposal(proposal.pk)
            messages.success(request, _("The vote is closed and counted."))
    except GovernanceError as refusal:
        if action == "extend":
            form.add_error("closes_at", str(refusal))
            return _detail(request, _proposal(request, pk), manage_form=form, status=400)
        messages.error(request, str(refusal))
    return redirect(proposal)


@login_required
def meeting_list(request):
    """Meetings, newest first, each with its agenda and its minutes."""
    _viewer(request)
    meetings = Meeting.objects.select_related("committee").prefetch_related(
        "agenda_items__proposal"
    )
    paginator = Paginator(meetings, 20)
    return render(
        request,
        "governance/meeting_list.html",
        {"meetings": paginator.get_page(request.GET.get("page"))},
    )


@login_required
def minutes_pdf(request, pk):
    _viewer(request)
    meeting = get_object_or_404(Meeting.objects.select_related("committee"), pk=pk)
    from portal.pdf import render_pdf

    started = time.perf_counter()
    pdf = render_pdf("governance/minutes.html", minutes_context(meeting))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="minutes-{meeting.pk}-{datetime.now():%Y%m%d}.pdf"'
    )
    response["Server-Timing"] = f"pdf;dur={(time.perf_counter() - started) * 1000:.0f}"
    return response
