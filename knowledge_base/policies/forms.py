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


class PolicyPageForm(WagtailAdminPageForm):
    acknowledgement_roles = forms.MultipleChoiceField(
        label=_("Who acknowledges"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Roles asked to acknowledge a material change; none ticked means all."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["acknowledgement_roles"].choices = acknowledging_role_choices()

    def clean_acknowledge_by(self):
        day = self.cleaned_data.get("acknowledge_by")
        if day and day < timezone.localdate():
            raise forms.ValidationError(_("The due date has passed."))
        return day
