"""The portal's training forms: every POST is read through one, so a malformed value is an
error beside its field, not a server error. Who may do what stays in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.library_picker import LibraryChoiceField, LibraryMultipleChoiceField
from portal.members.roles import role_choices
from portal.widgets import DateInput, NumberInput

from . import badges


class AssignForm(forms.Form):
    library = LibraryChoiceField(
        label=_("Assign for"), queryset=None, to_field_name="code", empty_label=None
    )
    roles = forms.MultipleChoiceField(
        label=_("Roles"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: everyone."),
    )
    libraries = LibraryMultipleChoiceField(
        label=_("Only these libraries"),
        queryset=None,
        to_field_name="code",
        required=False,
        help_text=_(
            "None ticked: every library it is assigned for. A system includes its branches."
        ),
    )
    due_on = forms.DateField(
        label=_("Due date"),
        required=False,
        widget=DateInput,
    )
    days_to_complete = forms.IntegerField(
        label=_("Days to complete for people who join later"),
        initial=30,
        min_value=1,
        max_value=3650,
        widget=NumberInput,
    )

    def __init__(self, *args, libraries, **kwargs):
        super().__init__(*args, **kwargs)
        # Only libraries this person may assign for are offered; the service checks again.
        self.fields["library"].queryset = libraries
        self.fields["libraries"].queryset = libraries
        self.fields["roles"].choices = role_choices()


class QuizSubmitForm(forms.Form):
    """The attempt a quiz page was made for; the answers are read against its questions."""

    attempt = forms.IntegerField(min_value=1)

    def answers(self, attempt) -> dict[str, list[int]]:
        """Each question's ticked option ids; a value that is no id is ignored."""
        answers = {}
        for question_id in attempt.option_order:
            answers[question_id] = [
                int(value) for value in self.data.getlist(f"q{question_id}") if value.isdigit()
            ]
        return answers


class RevokeCertificateForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)


class BadgeForm(forms.Form):
    """A badge to check: a file, or its JSON pasted."""

    badge = forms.FileField(label=_("Badge file"), required=False)
    badge_json = forms.CharField(label=_("Or its text"), required=False, widget=forms.Textarea)

    def raw(self) -> bytes | str:
        upload = self.cleaned_data.get("badge")
        if upload:
            return upload.read(badges.MAX_BADGE_BYTES + 1)
        return self.cleaned_data.get("badge_json", "")
