"""Portal pages of patron notices for member libraries: take part before the deadline, and
the delivery report for the library's board. Every view checks access for its library."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt

from portal import access
from portal.audit.services import record
from portal.members.models import MemberLibrary
from portal.members.switches import plugin_enabled
from portal.pdf import render_pdf

from . import letters, links, rendering, selectors, services
from .models import LibraryParticipation, Notice, PrintRun

# What member libraries decide on: approved by the office, not yet being sent.
OPEN = (Notice.State.APPROVED, Notice.State.SCHEDULED)


@login_required
def notice_list(request):
    """Notices the user's libraries may still take part in, with what each decided."""
    rows = selectors.notices_to_decide(request.user)
    if rows is None:
        raise PermissionDenied
    return render(request, "patron_notices/notices.html", {"rows": rows})


class ParticipationForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("For our patrons"),
        choices=[
            (LibraryParticipation.Decision.APPROVED, LibraryParticipation.Decision.APPROVED.label),
            (
                LibraryParticipation.Decision.OPTED_OUT,
                LibraryParticipation.Decision.OPTED_OUT.label,
            ),
        ],
        widget=forms.RadioSelect,
    )
    local_paragraph = forms.CharField(
        label=gettext_lazy("Local paragraph"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("Added below the notice for our patrons, e.g. our opening hours."),
    )


@login_required
def participate(request, pk, code):
    library = get_object_or_404(MemberLibrary, code=code)
    if not access.can(request.user, selectors.TAKE_PART, library):
        raise PermissionDenied
    notice = get_object_or_404(Notice, pk=pk)
    if not selectors.reaches(notice, library):
        raise Http404  # not addressed to this library's patrons: nothing to take part in
    current = LibraryParticipation.objects.filter(notice=notice, library=library).first()
    initial = (
        {"decision": current.decision, "local_paragraph": current.local_paragraph}
        if current
        else {}
    )
    form = ParticipationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                locked = services.check_participate(request.user, notice, library)
                services.do_participate(
                    request.user,
                    locked,
                    library,
                    form.cleaned_data["decision"],
                    form.cleaned_data["local_paragraph"],
                )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Saved. The consortium office sees what you decided."))
            return redirect("patron_notices:notices")
    language = notice.version_languages[0]
    return render(
        request,
        "patron_notices/participate.html",
        {
            "notice": notice,
            "library": library,
            "form": form,
            "current": current,
            "preview": rendering.preview(notice, library, language, _("Alex")),
            # The printed letters of the library and its branches, once made.
            "print_runs": notice.print_runs.filter(
                library__path__startswith=library.path, state="done"
            ).select_related("library"),
            "open": notice.state in OPEN
            and not (
                notice.participation_deadline and notice.participation_deadline < timezone.now()
            ),
        },
    )


@login_required
@xframe_options_sameorigin
def participation_message(request, pk, code):
    """The branded message as the library's patrons will get it, with the library's local
    paragraph: the decision page frames it."""
    library = get_object_or_404(MemberLibrary, code=code)
    if not access.can(request.user, selectors.TAKE_PART, library):
        raise PermissionDenied
    notice = get_object_or_404(Notice, pk=pk, state__in=OPEN)
    if not selectors.reaches(notice, library):
        raise Http404  # not addressed to this library's patrons: no message to show it
    language = request.GET.get("language") or notice.version_languages[0]
    if language not in notice.version_languages:
        raise Http404
    response = HttpResponse(rendering.preview(notice, library, language, _("Alex")).html)
    # The body is the office's own HTML: framed only by the portal, no scripts run.
    response["Content-Security-Policy"] = "script-src 'none'; frame-ancestors 'self'"
    return response


ARCHIVED = (Notice.State.SENDING, Notice.State.PAUSED, Notice.State.DONE)


def archive(request, pk, code, language):
    """Public: a sent notice as a library's patrons got it, linked from each message."""
    notice = get_object_or_404(Notice, pk=pk, state__in=ARCHIVED)
    library = get_object_or_404(MemberLibrary, code=code)
    opted_out = LibraryParticipation.objects.filter(
        notice=notice,
        decision=LibraryParticipation.Decision.OPTED_OUT,
        library__path__in=library.ancestor_paths(),
    ).exists()
    if (
        language not in notice.version_languages
        or not selectors.reaches(notice, library)
        or opted_out
        or not plugin_enabled("patron_notices", library)
    ):
        raise Http404
    response = HttpResponse(rendering.archive_page(notice, library, language).html)
    # The body is the office's own HTML: no scripts run, and no other site frames it.
    response["Content-Security-Policy"] = "script-src 'none'; frame-ancestors 'none'"
    return response


@login_required
def delivery_report(request, pk, code):
    """The notice's delivery figures for one library and its branches, as a PDF."""
    library = get_object_or_404(MemberLibrary, code=code)
    if not access.can(request.user, selectors.TAKE_PART, library):
        raise PermissionDenied
    notice = get_object_or_404(Notice, pk=pk)
    participation = LibraryParticipation.objects.filter(notice=notice, library=library).first()
    pdf = render_pdf(
        "patron_notices/pdf/delivery_report.html",
        {
            "notice": notice,
            "library": library,
            "participation": participation,
            "generated_at": timezone.now(),
            **selectors.library_report(notice, library),
        },
        request=request,
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="notice-{notice.pk}-{library.code}.pdf"'
    )
    return response


@login_required
def print_run(request, pk):
    """A library's printed letters: its communications people and director, and the office."""
    run = get_object_or_404(
        PrintRun.objects.select_related("library"), pk=pk, state=PrintRun.State.DONE
    )
    if not access.can(request.user, letters.DOWNLOAD, run.library):
        raise PermissionDenied
    # The letters carry names and addresses: who took them is on record.
    record(
        "patron_notices.letters_downloaded",
        actor=request.user,
        library=run.library,
        obj=run.notice,
        data={"run": run.pk, "letters": run.letters},
    )
    return FileResponse(
        run.file.open("rb"),
        as_attachment=True,
        filename=f"notice-{run.notice_id}-{run.library.code}-letters.pdf",
        content_type="application/pdf",
    )


# -- unsubscribe (RFC 8058) --------------------------------------------------------------------


@csrf_exempt  # the signed token is the credential; mail providers POST without a cookie
def unsubscribe(request, token):
    """GET asks (link scanners follow GETs); POST unsubscribes, one-click or from the page."""
    delivery = links.delivery_from_token(token)
    if delivery is None or delivery.contact_id is None:
        return render(
            request,
            "patron_notices/link_refused.html",
            {"reason": _("This link is not valid.")},
            status=403,
        )
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        scope = "library" if one_click else request.POST.get("scope", "library")
        done = services.do_unsubscribe(delivery, scope)
        return render(
            request,
            "patron_notices/unsubscribed.html",
            {"library": delivery.library, "scope": done, "token": token},
        )
    return render(
        request,
        "patron_notices/unsubscribe.html",
        {
            "library": delivery.library,
            "notice": delivery.notice,
            "has_category": delivery.notice.category != "emergency",
            "token": token,
        },
    )
