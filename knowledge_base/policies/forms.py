"""The policy page editor's form: who must acknowledge a new version, by when, and how."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminPageForm

from portal.members.roles import ROLES


def acknowledging_role_choices() -> list[tuple[str, str]]:
    from .services import default_acknowledging_roles

    return [(role, ROLES[role]) for role in default_acknowledging_roles()]


def quiz_choices(current: str = "") -> list[tuple[str, str]]:
    """Quizzes other plugins offer as reading checks; none means a click acknowledges."""
    from .selectors import offered_quizzes

    choices = [("", _("No quiz: confirming is enough")), *offered_quizzes()]
    if current and current not in dict(choices):
        choices.append((current, _("%(key)s (no longer offered)") % {"key": current}))
    return choices


class PolicyPageForm(WagtailAdminPageForm):
    acknowledgement_roles = forms.MultipleChoiceField(
        label=_("Who acknowledges"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Roles asked to acknowledge a material change; none ticked means all."),
    )

    acknowledgement_quiz = forms.ChoiceField(
        label=_("Acknowledge by passing a quiz"),
        required=False,
        help_text=_(
            "Where training is on for a library, its staff acknowledge by passing this quiz; "
            "elsewhere a click is enough."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["acknowledgement_roles"].choices = acknowledging_role_choices()
        self.fields["acknowledgement_quiz"].choices = quiz_choices(
            self.initial.get("acknowledgement_quiz", "")
        )

    def clean_acknowledge_by(self):
        day = self.cleaned_data.get("acknowledge_by")
        # Only a date being set now: one left from an earlier version must not block saving.
        if day and "acknowledge_by" in self.changed_data and day < timezone.localdate():
            raise forms.ValidationError(_("The due date has passed."))
        return day
