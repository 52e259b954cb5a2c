"""The office's announcement editor: an audience that reaches somebody."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminPageForm


class AnnouncementPageForm(WagtailAdminPageForm):
    def clean(self):
        cleaned = super().clean()
        audience = cleaned.get("audience")
        libraries = cleaned.get("audience_libraries")
        # "Chosen libraries" with none chosen would publish to nobody, silently.
        if audience == "libraries" and not libraries:
            self.add_error(
                "audience_libraries",
                forms.ValidationError(
                    _(
                        "Choose at least one library, or set the audience to "
                        "'All member staff': as it is, nobody would see this announcement."
                    ),
                    code="empty_audience",
                ),
            )
        return cleaned
