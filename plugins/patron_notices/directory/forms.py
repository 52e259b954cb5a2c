from django import forms
from django.utils.translation import gettext_lazy as _

from .models import NOTICE_KINDS, ImportJob
from .presets import FIELDS, FLAG_FIELDS, PRESET_CHOICES

FIELD_LABELS = {
    "card_number": _("Card number"),
    "first_name": _("First name"),
    "last_name": _("Last name"),
    "email": _("Email"),
    "phone": _("Phone"),
    "branch": _("Home branch code"),
    "category": _("Patron category"),
    "expires_on": _("Card expiry"),
    "language": _("Language"),
    "consent": _("Consent to notices"),
    "address_line1": _("Address (street)"),
    "address_line2": _("Address (second line)"),
    "city": _("City"),
    "region": _("State, province or county"),
    "postcode": _("Postcode"),
    "country": _("Country"),
    "address_gone": _("Address known to be wrong (no letters)"),
}


class UploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file from the ILS"))
    preset = forms.ChoiceField(label=_("Columns"), choices=PRESET_CHOICES)


class MappingForm(forms.Form):
    mode = forms.ChoiceField(label=_("Rows with problems"), choices=ImportJob.Mode.choices)
    full_sync = forms.BooleanField(
        label=_("Full sync: expire patrons the file no longer lists"), required=False
    )

    def __init__(self, *args, header, mapping, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", _("(not in the file)")), *[(h, h) for h in header]]
        for name in (*FIELDS, *FLAG_FIELDS):
            self.fields[f"map_{name}"] = forms.ChoiceField(
                label=FIELD_LABELS[name],
                choices=choices,
                required=name == "card_number",
                initial=mapping.get(name, ""),
            )

    def mapping(self) -> dict[str, str]:
        return {name: self.cleaned_data[f"map_{name}"] for name in (*FIELDS, *FLAG_FIELDS)}


class PreferencesForm(forms.Form):
    kinds = forms.MultipleChoiceField(
        label=_("Send me"),
        choices=NOTICE_KINDS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    language = forms.ChoiceField(label=_("Language"))
    unsubscribe = forms.MultipleChoiceField(
        label=_("Stop notices from"), required=False, widget=forms.CheckboxSelectMultiple
    )
    unsubscribe_all = forms.BooleanField(label=_("Stop all notices"), required=False)

    def __init__(self, *args, libraries, **kwargs):
        from django.conf import settings

        super().__init__(*args, **kwargs)
        self.fields["language"].choices = settings.LANGUAGES
        self.fields["unsubscribe"].choices = [(str(lib.pk), lib.name) for lib in libraries]
