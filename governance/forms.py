"""The portal's forms for committee voting: each POST is read through one of these, so a
malformed value (an impossible date, a missing field) is an error beside its field, never
a server error. The rules themselves (who may name a proxy, when a window may end) stay
in the services, which are asked once the form is valid."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.library_picker import LibraryChoiceField
from portal.widgets import DateInput, DateTimeInput, NumberInput

from . import tally
from .models import Committee, Delegation


class BallotForm(forms.Form):
    """The parts of a ballot every kind shares; the choice itself depends on the proposal."""

    library = forms.IntegerField(min_value=1)
    receipt = forms.CharField(required=False, max_length=200, strip=True)


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("Add a comment"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ReceiptLookupForm(forms.Form):
    receipt = forms.CharField(label=_("Your receipt code"), max_length=200)


class DelegationForm(forms.Form):
    library = LibraryChoiceField(label=_("Library"), queryset=None, empty_label=None)
    email = forms.EmailField(label=_("Their email"))
    kind = forms.ChoiceField(label=_("As"), choices=Delegation.Kind.choices)
    starts_on = forms.DateField(
        label=_("From"), required=False, widget=DateInput, help_text=_("Empty: today.")
    )
    ends_on = forms.DateField(
        label=_("Until"),
        required=False,
        widget=DateInput,
        help_text=_("Required for a proxy."),
    )

    def __init__(self, *args, libraries, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["library"].queryset = libraries

    def clean_email(self):
        email = self.cleaned_data["email"]
        person = get_user_model().objects.filter(email__iexact=email, is_active=True).first()
        if person is None:
            raise forms.ValidationError(_("No active account has that address."))
        self.person = person
        return email

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("starts_on"):
            cleaned["starts_on"] = timezone.localdate()
        kind, ends_on = cleaned.get("kind"), cleaned.get("ends_on")
        if kind == Delegation.Kind.PROXY and ends_on is None and "ends_on" not in self.errors:
            self.add_error("ends_on", _("A proxy needs an end date."))
        if ends_on and ends_on < cleaned["starts_on"]:
            self.add_error("ends_on", _("The end date comes before the start date."))
        return cleaned


class RevokeDelegationForm(forms.Form):
    revoke = forms.IntegerField(min_value=1)


class ManageForm(forms.Form):
    """The office's action on a proposal; "extend" also needs a new closing time and why."""

    ACTIONS = ("open", "extend", "withdraw", "close")

    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS])
    confirmed = forms.CharField(required=False)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)
    closes_at = forms.DateTimeField(
        label=_("New closing time"), required=False, widget=DateTimeInput
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == "extend":
            if not cleaned.get("closes_at") and "closes_at" not in self.errors:
                self.add_error("closes_at", _("Give the new closing time."))
            if not cleaned.get("reason", "").strip():
                self.add_error("reason", _("Say why the window is extended."))
        return cleaned

    @property
    def confirmed_yes(self) -> bool:
        return self.cleaned_data.get("confirmed") == "yes"


class RegisterFilterForm(forms.Form):
    """The register's filters; a committee is picked by name (its slug stays in the URL)."""

    committee = forms.ModelChoiceField(
        label=_("Committee"),
        queryset=Committee.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label=_("any"),
    )
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        required=False,
        choices=[
            ("", _("any")),
            (tally.PASSED, _("passed")),
            (tally.FAILED, _("failed")),
            (tally.TIE, _("tie")),
        ],
    )
    year = forms.IntegerField(
        label=_("Year"), required=False, min_value=1900, max_value=9999, widget=NumberInput
    )

    def filters(self) -> dict[str, str]:
        """The selector's arguments; an invalid filter is dropped (and shown as an error)."""
        self.is_valid()
        data = self.cleaned_data
        committee = data.get("committee")
        return {
            "committee": committee.slug if committee else "",
            "outcome": data.get("outcome") or "",
            "year": str(data["year"]) if data.get("year") else "",
        }
