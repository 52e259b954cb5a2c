"""The policy page editor's form: who must acknowledge a new version, by when, and how."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminPageForm

from portal.members.roles import role_name

from .choices import default_acknowledging_roles, offered_quizzes

DEFAULT_ACKNOWLEDGEMENT_DAYS = 30


def acknowledging_role_choices() -> list[tuple[str, str]]:
    return [(role, role_name(role)) for role in default_acknowledging_roles()]


def quiz_choices(current: str = "") -> list[tuple[str, str]]:
    """Quizzes other plugins offer as reading checks; none means a click acknowledges."""
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
        page = self.instance
        if page.pk and page.live and not page.has_unpublished_changes and not self.is_bound:
            # A new version starts fresh: what changed last time, and the last version's
            # due date, are not this version's (they stay with the published revision).
            self.initial["change_summary"] = ""
            self.initial["acknowledge_by"] = None
            self.initial["change_is_material"] = True
            if not self.initial.get("acknowledgement_days"):
                self.initial["acknowledgement_days"] = DEFAULT_ACKNOWLEDGEMENT_DAYS

    def clean(self):
        cleaned = super().clean()
        # Only a version that changes what the live one says needs a word on what changed.
        if cleaned.get("change_is_material") and self.instance.pk and self.instance.live:
            if not (cleaned.get("change_summary") or "").strip():
                self.add_error(
                    "change_summary",
                    _("Say what changed: staff are asked to acknowledge a material change."),
                )
            if not cleaned.get("acknowledge_by") and not cleaned.get("acknowledgement_days"):
                self.add_error(
                    "acknowledgement_days",
                    _(
                        "With 0 days and no date, nobody would be asked to acknowledge this "
                        "material change. Give the days (or a date), or untick "
                        "'material change' for a minor one."
                    ),
                )
        return cleaned

    def clean_acknowledge_by(self):
        day = self.cleaned_data.get("acknowledge_by")
        # Only a date being set now: one left from an earlier version must not block saving.
        if day and "acknowledge_by" in self.changed_data and day < timezone.localdate():
            raise forms.ValidationError(_("The due date has passed."))
        return day
