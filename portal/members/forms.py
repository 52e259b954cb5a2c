"""Forms for the office's admin views and the directors' people page.

Forms validate through the same ``check_*`` services the writes use, so a refusal shows
up as an error on the form rather than a failed save.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm

from .exceptions import ActionRefused
from .models import MemberLibrary, Membership, Role
from .role_services import RoleShape, check_create_role, check_edit_role
from .roles import permission_groups, role_choices
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


class RoleForm(WagtailAdminModelForm):
    """The office's role form: a name, and what the role lets a holder do, one list of
    checkboxes for the core and one for each module under the module's own name."""

    library_kinds = forms.MultipleChoiceField(
        label=_("May be held at"),
        choices=MemberLibrary.Kind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("None ticked: at any kind of library."),
    )
    library_types = forms.MultipleChoiceField(
        label=_("At libraries of type"),
        choices=MemberLibrary.LibraryType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("None ticked: every type."),
    )
    appointed_by = forms.ModelMultipleChoiceField(
        label=_("May be appointed by"),
        queryset=Role.objects.filter(retired=False),
        to_field_name="code",
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_(
            "Holders of these roles may appoint this one at their own library and the "
            "libraries below it. The consortium office always may."
        ),
    )

    class Meta:
        model = Role
        fields = ["code", "name", "description", "requires_mfa", "retired"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        editing = self.instance.pk is not None
        held = set()
        if editing:
            held = set(self.instance.permissions.values_list("codename", flat=True))
        self.permission_fields = []
        for label, name, perms in permission_groups():
            field_name = f"permissions_{label}"
            self.fields[field_name] = forms.MultipleChoiceField(
                label=_("Permissions: %(module)s") % {"module": name},
                choices=perms,
                widget=forms.CheckboxSelectMultiple,
                required=False,
                initial=[perm for perm, _label in perms if perm in held],
            )
            self.permission_fields.append(field_name)
        # Permissions after the role's own description, before where it may be held.
        order = ["code", "name", "description", *self.permission_fields]
        self.order_fields(order)
        if editing:
            self.fields["code"].disabled = True
            self.fields["code"].help_text = _("A role's code never changes.")
            self.initial["library_kinds"] = self.instance.library_kinds
            self.initial["library_types"] = self.instance.library_types
            self.initial["appointed_by"] = list(
                self.instance.appointed_by.values_list("code", flat=True)
            )

    def shape(self) -> RoleShape:
        data = self.cleaned_data
        return RoleShape(
            name=data.get("name", ""),
            description=data.get("description", ""),
            permissions={p for f in self.permission_fields for p in data.get(f, ())},
            library_kinds=list(data.get("library_kinds", ())),
            library_types=list(data.get("library_types", ())),
            requires_mfa=bool(data.get("requires_mfa")),
            appointed_by={r.code for r in data.get("appointed_by", ())},
            retired=bool(data.get("retired")),
        )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            if self.instance.pk is None:
                check_create_role(self.for_user, data.get("code", ""), self.shape())
            else:
                check_edit_role(self.for_user, self.instance, self.shape())
        except ActionRefused as refusal:
            raise forms.ValidationError(refusal.message, code=refusal.code) from None
        return data

    def _post_clean(self):
        # The model's own unique checks run in the services, which word them for the office.
        pass
