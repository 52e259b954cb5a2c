"""The body of a patron notice: one version per language, each a subject and a body."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from wagtail import blocks

PLACEHOLDER_HELP = _(
    "Placeholders: {first_name}, {library_name}, {library_address}, {library_website}, "
    "{library_reply_to}. The library's logo and colours frame the message."
)


def language_choices():
    return list(settings.LANGUAGES)


class BodyBlock(blocks.StreamBlock):
    heading = blocks.CharBlock(label=_("Heading"))
    paragraph = blocks.RichTextBlock(
        label=_("Paragraph"), features=["bold", "italic", "link", "ol", "ul"]
    )
    button = blocks.StructBlock(
        [("label", blocks.CharBlock(label=_("Label"))), ("url", blocks.URLBlock(label=_("Link")))],
        label=_("Button"),
        template="patron_notices/blocks/button.html",
    )

    class Meta:
        template = "patron_notices/blocks/body.html"


class LanguageVersionBlock(blocks.StructBlock):
    language = blocks.ChoiceBlock(choices=language_choices, label=_("Language"))
    subject = blocks.CharBlock(label=_("Subject"), max_length=200, help_text=PLACEHOLDER_HELP)
    body = BodyBlock(label=_("Body"))

    class Meta:
        label = _("Language version")
        icon = "doc-full"
