"""Admin pages of a notice beyond its form: manage and watch the send, preview, test send.

Each view asks ``services.may_*`` (which ask ``portal.access``) before anything else.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from portal.members.models import MemberLibrary

from . import letters, planning, rendering, selectors, services
from .models import Notice


def _notice_for(request, pk) -> tuple[Notice, set[int] | None]:
    """The notice and the libraries whose side of it the person sees (None: all)."""
    if not (services.may_draft(request.user) or services.may_send(request.user)):
        raise PermissionDenied
    notice = get_object_or_404(Notice, pk=pk)
    if not services.may_view(request.user, notice):
        raise PermissionDenied
    return notice, selectors.notice_libraries(request.user)


def _actions(notice: Notice) -> list[tuple[str, str]]:
    State = Notice.State
    offered = {
        # Approval is the workflow's, on the edit page (see NoticeApprovalTask).
        State.DRAFT: [],
        State.APPROVED: [("schedule", gettext_lazy("Schedule"))],
        State.SCHEDULED: [("schedule", gettext_lazy("Reschedule")), ("cancel", _("Cancel"))],
        State.SENDING: [("pause", gettext_lazy("Pause")), ("cancel", gettext_lazy("Cancel"))],
        State.PAUSED: [("resume", gettext_lazy("Resume")), ("cancel", gettext_lazy("Cancel"))],
        State.DONE: [],
        State.CANCELLED: [],
    }[notice.state]
    if notice.state in (State.SENDING, State.PAUSED, State.DONE):
        offered.append(("retry_failed", gettext_lazy("Retry failed recipients")))
    return offered


def manage(request, pk):
    notice, seen = _notice_for(request, pk)
    may_send = services.may_send(request.user)
    audience = None
    if notice.state in (Notice.State.DRAFT, Notice.State.APPROVED, Notice.State.SCHEDULED):
        # Who it would reach if it went now, after deduplication, consent and suppression.
        audience = {
            "recipients": planning.count_recipients(notice),
            "letters": letters.count_letters(notice) if notice.include_print else None,
        }
    return render(
        request,
        "patron_notices/admin/manage.html",
        {
            "notice": notice,
            "may_send": may_send,
            "may_approve": services.may_approve(request.user, notice),
            "actions": _actions(notice) if may_send else [],
            "progress": selectors.notice_progress(notice, seen),
            "participations": selectors.participations(notice, seen),
            "schedule_form": ScheduleForm(initial={"send_at": notice.send_at}),
            "audience": audience,
            "print_runs": selectors.print_runs(notice, seen),
        },
    )


def progress_json(request, pk):
    notice, seen = _notice_for(request, pk)
    return JsonResponse(selectors.notice_progress(notice, seen))


class ScheduleForm(forms.Form):
    send_at = forms.DateTimeField(
        label=gettext_lazy("Send at"),
        required=False,
        help_text=gettext_lazy("Empty: now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


@require_POST
def act(request, pk, action):
    notice = get_object_or_404(Notice, pk=pk)
    if action not in ("schedule", "pause", "resume", "cancel", "retry_failed"):
        raise PermissionDenied
    user = request.user
    try:
        with transaction.atomic():
            if action == "schedule":
                form = ScheduleForm(request.POST)
                if not form.is_valid():
                    raise ValidationError(_("Give a valid date and time."))
                send_at = form.cleaned_data["send_at"]
                locked = services.check_schedule_notice(user, notice, send_at)
                services.do_schedule_notice(user, locked, send_at)
            else:
                locked = services.check_control(user, notice, action)
                getattr(services, f"do_{action}")(user, locked)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Done."))
    return redirect("notices:manage", pk=notice.pk)


class PreviewForm(forms.Form):
    library = forms.ModelChoiceField(
        label=gettext_lazy("As a patron of"), queryset=MemberLibrary.objects.order_by("path")
    )
    language = forms.ChoiceField(label=gettext_lazy("Language"))
    first_name = forms.CharField(label=gettext_lazy("First name"), initial="Alex", max_length=100)

    def __init__(self, notice, *args, seen=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [(lang, lang) for lang in notice.version_languages]
        self.fields["library"].queryset = _libraries(seen)


def _libraries(seen: set[int] | None):
    """The libraries a person may preview or brand a test as: those whose side they see."""
    libraries = MemberLibrary.objects.order_by("path")
    return libraries if seen is None else libraries.filter(pk__in=seen)


def _preview_form(request, notice, seen) -> PreviewForm:
    data = request.GET if "library" in request.GET else None
    form = PreviewForm(notice, data, seen=seen)
    if data is None:
        first = _libraries(seen).first()
        form = PreviewForm(
            notice,
            {
                "library": first.pk if first else None,
                "language": notice.version_languages[0],
                "first_name": "Alex",
            },
            seen=seen,
        )
    return form


def preview(request, pk):
    notice, seen = _notice_for(request, pk)
    form = _preview_form(request, notice, seen)
    prepared = rendering.preview(notice, **form.cleaned_data) if form.is_valid() else None
    return render(
        request,
        "patron_notices/admin/preview.html",
        {"notice": notice, "form": form, "prepared": prepared, "query": form.data},
    )


def preview_message(request, pk):
    """The message's HTML alone, for the preview page's frame."""
    notice, seen = _notice_for(request, pk)
    form = _preview_form(request, notice, seen)
    if not form.is_valid():
        return HttpResponse(status=400)
    response = HttpResponse(rendering.preview(notice, **form.cleaned_data).html)
    # The body is the office's own HTML: framed only by the admin, no scripts run.
    response["Content-Security-Policy"] = "script-src 'none'; frame-ancestors 'self'"
    return response


class TestSendForm(forms.Form):
    library = forms.ModelChoiceField(
        label=gettext_lazy("Branded as"), queryset=MemberLibrary.objects.order_by("path")
    )
    language = forms.ChoiceField(label=gettext_lazy("Language"))
    addresses = forms.CharField(
        label=gettext_lazy("Send to"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Up to ten addresses, one per line."),
    )

    def __init__(self, notice, *args, seen=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [(lang, lang) for lang in notice.version_languages]
        self.fields["library"].queryset = _libraries(seen)

    def clean_addresses(self):
        from django.core.validators import validate_email

        addresses = [a.strip() for a in self.cleaned_data["addresses"].split() if a.strip()]
        for address in addresses:
            validate_email(address)
        return addresses


def test_send(request, pk):
    notice, seen = _notice_for(request, pk)
    form = TestSendForm(notice, request.POST or None, seen=seen)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                services.check_test_send(request.user, notice, data["library"], data["addresses"])
                services.do_test_send(
                    request.user, notice, data["library"], data["language"], data["addresses"]
                )
        except ValidationError as exc:
            form.add_error("addresses", exc)
        else:
            messages.success(request, _("The test is on its way."))
            return redirect("notices:manage", pk=notice.pk)
    return render(request, "patron_notices/admin/test_send.html", {"notice": notice, "form": form})
