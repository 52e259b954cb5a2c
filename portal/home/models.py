from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page

from . import routing


class HomePage(Page):
    """The consortium's public front page."""

    intro = RichTextField(_("introduction"), blank=True)
    sign_in_prompt = models.CharField(
        _("sign-in prompt"),
        max_length=200,
        default=_("Member library staff: sign in to vote, read policies and take training."),
    )

    content_panels = [*Page.content_panels, FieldPanel("intro"), FieldPanel("sign_in_prompt")]
    max_count = 1

    def route(self, request, path_components):
        """Wagtail's routing, which keeps a hint for the page it found: the next request
        for the address finds it in one query (``routing.route_by_hint``)."""
        result = super().route(request, path_components)
        if path_components:
            routing.remember(self, path_components, result)
        return result

    class Meta:
        verbose_name = _("home page")
