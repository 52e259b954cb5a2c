"""Mail to members' staff from templates: one way to build it, for the core and the plugins.

(Mail to patrons is a plugin's own business, with its branding, unsubscribe headers and
delivery tracking; this is for people who hold a role at a member library.)
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def message(
    to: str,
    body_template: str,
    context: dict,
    *,
    subject: str = "",
    subject_template: str = "",
    reply_to: str = "",
) -> EmailMultiAlternatives:
    """A plain-text message to ``to``. The subject is ``subject``, or ``subject_template``
    rendered and folded onto one line (a header cannot hold a line break); replies go to
    ``reply_to`` when given (a member library's own address)."""
    if subject_template:
        subject = " ".join(render_to_string(subject_template, context).split())
    return EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(body_template, context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        reply_to=[reply_to] if reply_to else None,
    )


def send(to: str, body_template: str, context: dict, **options) -> None:
    """Build the message as ``message`` does and send it now (callers run this on commit
    or in a task)."""
    message(to, body_template, context, **options).send()
