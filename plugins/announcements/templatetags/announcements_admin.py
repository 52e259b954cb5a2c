"""What the announcement editor shows beside the audience: how many people it reaches."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import selectors

register = template.Library()


@register.simple_tag
def audience_reach(page) -> str:
    """ "Reaches N people", for the audience as last saved."""
    if not page.pk:
        return format_html(
            '<p class="help">{}</p>',
            _("Save a draft to see how many people this announcement reaches."),
        )
    count = selectors.recipients(page).count()
    text = ngettext(
        "As last saved, this announcement reaches %(n)s person.",
        "As last saved, this announcement reaches %(n)s people.",
        count,
    ) % {"n": f"{count:,}"}
    return format_html('<p class="help" data-audience-reach="{}">{}</p>', count, text)
