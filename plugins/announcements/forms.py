from django import forms
from django.utils.translation import gettext_lazy as _

from portal.library_picker import LibraryMultipleChoiceField
from portal.members.roles import role_choices
from portal.widgets import DateTimeInput

from .models import AnnouncementPage, AnnouncementPreference


class AnnouncementForm(forms.Form):
    """The portal's form for directors, who do not use the Wagtail admin."""

    title = forms.CharField(label=_("Title"), max_length=255)
    body = forms.CharField(
        label=_("Message"),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Leave a blank line between paragraphs."),
    )
    category = forms.ChoiceField(label=_("Category"), choices=AnnouncementPage.Category.choices)
    priority = forms.ChoiceField(label=_("Priority"), choices=AnnouncementPage.Priority.choices)
    everyone = forms.BooleanField(label=_("All member staff"), required=False)
    libraries = LibraryMultipleChoiceField(
        label=_("Libraries"),
        queryset=None,
        required=False,
        help_text=_("A library system includes its branches."),
    )
    roles = forms.MultipleChoiceField(
        label=_("Roles"),
        choices=role_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Leave empty for every role."),
    )
    go_live_at = forms.DateTimeField(
        label=_("Publish at"),
        required=False,
        widget=DateTimeInput,
    )
    expire_at = forms.DateTimeField(
        label=_("Expires at"),
        required=False,
        widget=DateTimeInput,
    )
    event_start = forms.DateTimeField(
        label=_("Event starts"),
        required=False,
        widget=DateTimeInput,
    )
    event_end = forms.DateTimeField(
        label=_("Event ends"),
        required=False,
        widget=DateTimeInput,
    )
    event_location = forms.CharField(label=_("Event location"), max_length=200, required=False)

    def __init__(self, *args, libraries, allow_everyone: bool, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the libraries this person may address are offered; the service checks again.
        self.fields["libraries"].queryset = libraries.order_by("path")
        if not allow_everyone:
            del self.fields["everyone"]


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = AnnouncementPreference
        fields = ["urgent_immediately", "digest"]


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    category = forms.ChoiceField(
        label=_("Category"),
        required=False,
        choices=[("", _("All categories")), *AnnouncementPage.Category.choices],
    )
