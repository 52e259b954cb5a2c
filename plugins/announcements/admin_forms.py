"""The office's announcement editor: an audience that reaches somebody, and how many."""

from __future__ import annotations

from django import forms
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.admin.forms import WagtailAdminPageForm
from wagtail.admin.panels import Panel


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


class AudienceReachPanel(Panel):
    """ "Reaches N people", for the audience as last saved, shown beside the audience."""

    class BoundPanel(Panel.BoundPanel):
        def render_html(self, parent_context=None):
            from .selectors import recipients

            page = self.instance
            if not page.pk:
                return format_html(
                    '<p class="help">{}</p>',
                    _("Save a draft to see how many people this announcement reaches."),
                )
            count = recipients(page).count()
            text = ngettext(
                "As last saved, this announcement reaches %(n)s person.",
                "As last saved, this announcement reaches %(n)s people.",
                count,
            ) % {"n": f"{count:,}"}
            return format_html('<p class="help" data-audience-reach="{}">{}</p>', count, text)
