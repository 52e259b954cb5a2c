from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page


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

    class Meta:
        verbose_name = _("home page")
