"""Forms for the office's admin views and the directors' people page.

Forms validate through the same ``check_*`` services the writes use, so a refusal shows
up as an error on the form rather than a failed save.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm

from .exceptions import ActionRefused
from .models import MemberLibrary, Membership
from .roles import role_choices
from .services import appointable_roles, check_add_membership

LIBRARY_FIELDS = [
    "name",
    "code",
    "kind",
    "library_type",
    "vote_weight",
    "shares_catalogue",
    "logo",
    "primary_colour",
    "secondary_colour",
    "reply_to",
    "website",
    "address",
    "phone",
    "contact_name",
    "contact_email",
]


class TreeChoiceField(forms.ModelChoiceField):
    """Libraries in tree order, each indented under its parent."""

    def label_from_instance(self, obj):
        return "\u2003" * (obj.depth - 1) + f"{obj.name} ({obj.code})"


class MemberLibraryForm(WagtailAdminModelForm):
    website = forms.URLField(label=_("website"), required=False, assume_scheme="https")

    class Meta:
        model = MemberLibrary
        fields = LIBRARY_FIELDS


class MemberLibraryCreateForm(MemberLibraryForm):
    parent = TreeChoiceField(
        label=_("Part of"),
        queryset=MemberLibrary.objects.order_by("path"),
        help_text=_("The consortium, or the library system this library belongs to."),
    )

    class Meta(MemberLibraryForm.Meta):
        fields = ["parent", *LIBRARY_FIELDS]


class AppointForm(forms.Form):
    """Appoint a person (new or known) to a role at a library, inviting them if new."""

    email = forms.EmailField(label=_("Email address"))
    full_name = forms.CharField(label=_("Full name"), max_length=200, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=())

    def __init__(self, *args, actor, library: MemberLibrary, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor, self.library = actor, library
        allowed = appointable_roles(actor, library)
        self.fields["role"].choices = [
            (code, name) for code, name in role_choices() if code in allowed
        ]

    def clean(self):
        data = super().clean()
        if data.get("email") and data.get("role"):
            try:
                check_add_membership(self.actor, data["email"], self.library, data["role"])
            except ActionRefused as refusal:
                raise forms.ValidationError(refusal.message, code=refusal.code) from None
        return data


class MembershipAddForm(WagtailAdminModelForm):
    """The office's "add a person" form in the admin: a library, a role, an address."""

    email = forms.EmailField(label=_("Email address"))
    full_name = forms.CharField(label=_("Full name"), max_length=200, required=False)
    library = TreeChoiceField(label=_("Library"), queryset=MemberLibrary.objects.order_by("path"))
    role = forms.ChoiceField(label=_("Role"), choices=role_choices)

    class Meta:
        model = Membership
        fields = ["email", "full_name", "library", "role"]

    def clean(self):
        data = super().clean()
        if data.get("email") and data.get("library") and data.get("role"):
            try:
                check_add_membership(self.for_user, data["email"], data["library"], data["role"])
            except ActionRefused as refusal:
                raise forms.ValidationError(refusal.message, code=refusal.code) from None
        return data


class PeopleImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8 CSV with a header row and the columns email, name, library (its code) "
            "and role. Nothing is imported unless every row is good."
        ),
    )
