"""Portal pages for shared policies. Thin: access through portal.access, reads in selectors."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal import access, exports
from portal.members.models import MemberLibrary
from portal.pdf import render_pdf

from . import selectors, services
from .blocks import numbered
from .models import Acknowledgement, PolicyCategory, PolicyChange, PolicyPage, PolicyVersion


def _reader(request) -> None:
    if not selectors.may_read(request.user):
        raise PermissionDenied


def _policy(code: str) -> PolicyPage:
    return get_object_or_404(PolicyPage.objects.live(), code=code)


def _version(page: PolicyPage, number: int) -> PolicyVersion:
    return get_object_or_404(PolicyVersion, policy=page, number=number)


def _procedure_libraries(user) -> list[MemberLibrary]:
    """The person's own libraries where they may write a local procedure (one query)."""
    own = {m.library_id: m.library for m in access.memberships_of(user)}
    if not own:
        return []
    allowed = set(
        access.libraries_for(user, "policies.add_local_procedure")
        .filter(pk__in=own)
        .values_list("pk", flat=True)
    )
    return [lib for pk, lib in own.items() if pk in allowed and not lib.is_consortium]


def render_policy(request, page: PolicyPage):
    """The policy with its current version, local procedures and acknowledgement state.

    Reached by the portal's address and through Wagtail's page tree (``wagtail_hooks``);
    the editor's preview renders the page's own context (``PolicyPage.get_context``).
    """
    if not request.user.is_authenticated:
        return redirect(f"{settings_login_url()}?next={request.path}")
    _reader(request)
    user = request.user
    version = selectors.current_version(page)
    outstanding = selectors.outstanding_for(user, [page.pk])
    item = outstanding[0] if outstanding else None
    quiz = None
    if item and item.campaign.quiz_key:
        try:
            library = services.acknowledging_library(user)
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
        version=version,
        outstanding=item,
        quiz=quiz,
        diff=diff,
        procedures=selectors.local_procedures(user, page),
        procedure_libraries=_procedure_libraries(user),
        may_manage=selectors.may_manage(user),
    )
    return render(request, page.get_template(request), context)


def settings_login_url():
    from django.conf import settings
    from django.shortcuts import resolve_url

    return resolve_url(settings.LOGIN_URL)


@login_required
def index(request):
    """Browse and search the policies the person may read."""
    _reader(request)
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
        results = list(pages.select_related("category").order_by("category__order", "code"))
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
    return render_policy(request, _policy(code))


@login_required
def version(request, code, number):
    _reader(request)
    page = _policy(code)
    shown = _version(page, number)
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
    _reader(request)
    page = _policy(code)
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


@login_required
def version_pdf(request, code, number):
    _reader(request)
    page = _policy(code)
    shown = _version(page, number)
    pdf = render_pdf(
        "policies/pdf/version.html",
        {"page": page, "version": shown, "blocks": numbered(shown.stream)},
    )
    return _pdf_response(pdf, f"{shown.code}-v{shown.number}.pdf")


def manual_context() -> dict:
    """Every current policy with its latest version, for the manual PDF."""
    pages = list(
        PolicyPage.objects.live().select_related("category").order_by("category__order", "code")
    )
    latest = {}
    for v in PolicyVersion.objects.filter(policy__in=pages).order_by("policy_id", "-number"):
        latest.setdefault(v.policy_id, v)
    entries = [
        {"page": p, "version": latest[p.pk], "blocks": numbered(latest[p.pk].stream)}
        for p in pages
        if p.pk in latest
    ]
    return {"entries": entries, "today": timezone.localdate()}


@login_required
def manual_pdf(request):
    _reader(request)
    pdf = render_pdf("policies/pdf/manual.html", manual_context())
    return _pdf_response(pdf, "policy-manual.pdf")


def _pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _posted_number(request) -> int | None:
    number = request.POST.get("version", "")
    return int(number) if number.isdigit() else None


@login_required
@require_POST
def acknowledge(request, code):
    page = _policy(code)
    try:
        shown, library = services.check_acknowledge(request.user, page, _posted_number(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("policies:detail", code)
    services.do_acknowledge(request.user, shown, library)
    messages.success(
        request,
        _("You acknowledged %(code)s version %(n)s.") % {"code": page.code, "n": shown.number},
    )
    return redirect("policies:detail", code)


@login_required
@require_POST
def acknowledge_by_quiz(request, code):
    """Answers to the policy's quiz: passing it is the acknowledgement of the current version."""
    page = _policy(code)
    answers = {
        key[len("q-") :]: request.POST.getlist(key)
        for key in request.POST
        if key.startswith("q-") and key[len("q-") :].isdigit()
    }
    try:
        shown, library, score, passed = services.check_acknowledge_by_quiz(
            request.user, page, _posted_number(request), answers
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("policies:detail", code)
    if not passed:
        messages.error(
            request,
            _("You scored %(score)s%%: not enough to pass. Read the policy again and retry.")
            % {"score": score},
        )
        return redirect("policies:detail", code)
    services.do_acknowledge(
        request.user, shown, library, method=Acknowledgement.Method.QUIZ, score=score
    )
    messages.success(
        request,
        _("You passed the quiz and acknowledged %(code)s version %(n)s.")
        % {"code": page.code, "n": shown.number},
    )
    return redirect("policies:detail", code)


@login_required
def mine(request):
    """Policies waiting for my acknowledgement."""
    _reader(request)
    return render(
        request,
        "policies/mine.html",
        {"outstanding": selectors.outstanding_for(request.user)},
    )


def _report_libraries(request):
    libraries = access.libraries_for(request.user, "policies.view_acknowledgements")
    if not libraries.exists():
        raise PermissionDenied
    return libraries


REPORT_LIBRARIES_PER_PAGE = 25


@login_required
def report(request):
    """Acknowledgement status: a director's libraries, or every library for the office;
    filtered by policy, library and status, with rates per policy, a page of libraries at a
    time, and reminders for those who have not acknowledged yet."""
    libraries = _report_libraries(request)
    code = request.GET.get("policy", "")
    search = request.GET.get("library", "").strip()[:100]
    missing_only = request.GET.get("missing") == "1"
    policy_ids = None
    if code:
        policy_ids = list(PolicyPage.objects.filter(code=code).values_list("pk", flat=True))
    if search:
        libraries = libraries.filter(name__icontains=search)
    rows = selectors.acknowledgement_report(libraries, policy_ids)
    if request.GET.get("format") == "csv":
        return _report_csv(rows)
    if request.method == "POST":
        missing = [
            person.membership.user_id
            for row in rows
            for status in row.campaigns
            for person in status.people
            if not person.acknowledged_at
        ]
        with transaction.atomic():
            queued, skipped = services.do_remind_now(request.user, missing)
        messages.success(
            request,
            _("Reminders are on their way to %(n)s people.") % {"n": queued}
            + (" " + _("%(n)s were already reminded today.") % {"n": skipped} if skipped else ""),
        )
        return redirect(f"{request.path}?{request.GET.urlencode()}")
    rates: dict[str, list[int]] = {}
    for row in rows:
        for status in row.campaigns:
            key = f"{status.campaign.version.code} v{status.campaign.version.number}"
            entry = rates.setdefault(key, [0, 0])
            entry[0] += status.done
            entry[1] += status.total
    shown = [row for row in rows if row.campaigns and (not missing_only or row.done < row.total)]
    page = Paginator(shown, REPORT_LIBRARIES_PER_PAGE).get_page(request.GET.get("page"))
    paging = request.GET.copy()
    paging.pop("page", None)
    return render(
        request,
        "policies/report.html",
        {
            "rows": page,
            "page": page,
            "code": code,
            "search": search,
            "missing_only": missing_only,
            "policies": selectors.active_campaigns(),
            "rates": [
                (key, done, total, round(100 * done / total) if total else 100)
                for key, (done, total) in sorted(rates.items())
            ],
            "query": request.GET.urlencode(),
            "paging": paging.urlencode(),
        },
    )


def _report_csv(rows) -> HttpResponse:
    stamp = timezone.localdate().isoformat()
    response = exports.csv_response(f"acknowledgements-{stamp}.csv")
    writer = exports.writer(response)
    writer.writerow(
        [
            _("library code"),
            _("library"),
            _("policy"),
            _("version"),
            _("due"),
            _("person"),
            _("email"),
            _("role"),
            _("acknowledged at"),
            _("how"),
        ]
    )
    for row in rows:
        for status in row.campaigns:
            campaign = status.campaign
            for person in status.people:
                user = person.membership.user
                at = person.acknowledged_at
                writer.writerow(
                    [
                        row.library.code,
                        row.library.name,
                        campaign.version.code,
                        campaign.version.number,
                        campaign.due_date.isoformat(),
                        user.get_full_name(),
                        user.email,
                        person.membership.role,
                        timezone.localtime(at).isoformat(timespec="minutes") if at else "",
                        ("quiz" if person.by_quiz else "click") if at else "",
                    ]
                )
    return response


@login_required
def report_pdf(request):
    libraries = _report_libraries(request)
    rows = selectors.acknowledgement_report(libraries)
    pdf = render_pdf(
        "policies/pdf/report.html", {"rows": rows, "today": timezone.localdate()}, request=request
    )
    return _pdf_response(pdf, f"acknowledgements-{timezone.localdate().isoformat()}.pdf")


@login_required
def reviews(request):
    """Policies past their review date: the owner's own, or all for the office."""
    _reader(request)
    return render(
        request,
        "policies/reviews.html",
        {"overdue": selectors.overdue_reviews(request.user), "today": timezone.localdate()},
    )


@login_required
@require_POST
def mark_reviewed(request, code):
    page = _policy(code)
    services.check_mark_reviewed(request.user, page)
    next_date = services.do_mark_reviewed(request.user, page)
    messages.success(request, _("Reviewed. Next review: %(date)s.") % {"date": next_date})
    return redirect("policies:reviews")


@login_required
def local_procedure(request, code, library_code):
    """A library's own procedure for a shared policy: written by its director."""
    page = _policy(code)
    library = get_object_or_404(MemberLibrary, code=library_code)
    existing = page.local_procedures.filter(library=library).first()
    text = request.POST.get("text", existing.text if existing else "")
    if request.method == "POST":
        services.check_local_procedure(request.user, page, library, text)
        services.do_save_local_procedure(request.user, page, library, text)
        messages.success(request, _("The local procedure was saved."))
        return redirect("policies:detail", code)
    if not access.can(request.user, "policies.add_local_procedure", library):
        raise PermissionDenied
    return render(
        request,
        "policies/procedure_form.html",
        {"page": page, "library": library, "text": text},
    )


@login_required
def change(request, pk):
    """A proposed change: the draft against the current text, and directors' comments."""
    _reader(request)
    item = get_object_or_404(PolicyChange.objects.select_related("policy", "revision"), pk=pk)
    commenting = [
        m.library
        for m in access.memberships_of(request.user)
        if access.can(request.user, "policies.comment_on_drafts", m.library)
    ]
    if not commenting and not selectors.may_manage(request.user):
        raise PermissionDenied
    if request.method == "POST":
        library = next((lib for lib in commenting if lib.code == request.POST.get("library")), None)
        if library is None:
            raise PermissionDenied
        try:
            services.check_draft_comment(request.user, item, library, request.POST.get("text", ""))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            services.do_draft_comment(request.user, item, library, request.POST["text"])
            messages.success(request, _("Thank you: your comment was recorded."))
        return redirect("policies:change", pk)
    draft = item.draft
    current = selectors.current_version(item.policy)
    from .blocks import body_lines

    draft_text = f"{draft.title}\n" + "\n".join(body_lines(draft.body))
    current_text = f"{current.title}\n{current.text}" if current else ""
    return render(
        request,
        "policies/change.html",
        {
            "item": item,
            "draft": draft,
            "current": current,
            "lines": selectors.diff_lines(current_text, draft_text),
            "comments": item.comments.select_related("author", "library"),
            "commenting": commenting,
            "slug": slugify(item.policy.code),
        },
    )
