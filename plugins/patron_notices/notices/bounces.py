"""Bounces and complaints reported by a mail provider feed the suppression list.

django-anymail turns each provider's tracking webhook (Amazon SES, Postmark, Mailgun,
SendGrid, ...) into one normalised ``tracking`` signal. A hard bounce or a complaint
suppresses the person's cards (planning leaves suppressed cards out) and marks the
delivery failed with the reason. Providers resend webhooks: handling one twice changes
nothing and audits nothing. Neither the log nor the audit holds the address.
"""

from __future__ import annotations

import logging

from anymail.signals import EventType, RejectReason
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from portal.audit.services import record_on_commit

from ..directory.models import Contact, Patron
from .models import Delivery

logger = logging.getLogger(__name__)

# Metadata the engine attaches to messages it hands to a provider (see emails.py); the
# provider echoes it back in its events.
METADATA_NOTICE = "concord_notice"
METADATA_DELIVERY = "concord_delivery"

Suppression = Patron.Suppression


def suppression_for(event) -> str | None:
    """The suppression an event calls for, or None (opens, deliveries, soft bounces)."""
    if event.event_type == EventType.COMPLAINED:
        return Suppression.COMPLAINED
    if event.event_type == EventType.BOUNCED:
        # A soft bounce (a full mailbox) is temporary: the address stays on the list.
        esp_event = event.esp_event if isinstance(event.esp_event, dict) else {}
        if esp_event.get("Type") == "SoftBounce" or (event.description or "").startswith(
            "Transient"
        ):
            return None
        return Suppression.BOUNCED
    # The provider refuses an address it knows to be bad or blocked.
    if event.event_type == EventType.REJECTED and event.reject_reason in (
        RejectReason.BOUNCED,
        RejectReason.INVALID,
    ):
        return Suppression.BOUNCED
    return None


def _delivery_for(event, contact: Contact | None) -> Delivery | None:
    """The delivery row the event is about: by the metadata we sent, else the contact's
    latest message."""
    metadata = event.metadata or {}
    try:
        delivery_id = int(metadata.get(METADATA_DELIVERY) or 0)
    except (TypeError, ValueError):
        delivery_id = 0
    rows = Delivery.objects.select_for_update()
    if delivery_id:
        delivery = rows.filter(pk=delivery_id).first()
        # Only when the event is about that row's recipient: metadata is not a credential.
        if delivery and contact and delivery.contact_id == contact.pk:
            return delivery
    if contact is None:
        return None
    return (
        rows.filter(contact=contact, state__in=[Delivery.State.SENT, Delivery.State.FAILED])
        .order_by(F("sent_at").desc(nulls_last=True), "-pk")
        .first()
    )


def do_record_event(event, esp_name: str = "") -> bool:
    """Apply one tracking event; True when it changed something."""
    suppression = suppression_for(event)
    if suppression is None or not event.recipient:
        return False
    email = event.recipient.strip().lower()
    now = timezone.now()
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(email=email).first()
        delivery = _delivery_for(event, contact)
        suppressed = 0
        if contact is not None:
            # A complaint outranks an earlier bounce; nothing else is overwritten.
            cards = Patron.objects.filter(contact=contact)
            if suppression == Suppression.COMPLAINED:
                cards = cards.filter(suppression__in=["", Suppression.BOUNCED])
            else:
                cards = cards.filter(suppression="")
            suppressed = cards.update(suppression=suppression, suppressed_at=now)
        # The provider's own words (description, MTA reply) often quote the address: not kept.
        reason = f"{suppression}: {event.reject_reason or 'reported'} ({esp_name or 'provider'})"
        failed = False
        if delivery is not None and not (
            delivery.state == Delivery.State.FAILED and delivery.last_error == reason
        ):
            delivery.state, delivery.last_error = Delivery.State.FAILED, reason[:300]
            delivery.lease_until = None
            delivery.save(update_fields=["state", "last_error", "lease_until"])
            failed = True
        if not (suppressed or failed):
            return False
        record_on_commit(
            f"patron_notices.{suppression}",
            library=delivery.library if delivery else None,
            obj=delivery.notice if delivery else None,
            data={
                "provider": esp_name,
                "delivery": delivery.pk if delivery else None,
                "cards_suppressed": suppressed,
                "reason": event.reject_reason or "",
            },
        )
    return True


class NotRecorded(Exception):
    """Recording a well-formed event failed (the database, say): answered 500, so the
    provider sends it again later."""


def on_tracking(sender, event, esp_name, **kwargs):
    """Receiver of anymail's ``tracking`` signal."""
    try:
        do_record_event(event, esp_name)
    except Exception as exc:
        # The provider retries on an error reply; log the type only, never the address.
        logger.error("Tracking event from %s not recorded: %s", esp_name, type(exc).__name__)
        raise NotRecorded(type(exc).__name__) from exc


def webhooks_configured() -> bool:
    anymail = getattr(settings, "ANYMAIL", {}) or {}
    return bool(anymail.get("WEBHOOK_SECRET") or getattr(settings, "ANYMAIL_WEBHOOK_SECRET", ""))


def misconfigured(name: str, exc: Exception):
    """A provider's webhook without its own key (a signing secret, say): the portal's
    configuration is at fault, not the caller's request. Logged for the operators, and
    answered 404 as if the webhook were not there, so the provider stops calling."""
    from django.http import HttpResponseNotFound

    provider = name.removesuffix("_tracking_webhook")
    # The exception names the missing setting, never a secret's value or an address.
    logger.error(
        "The %s webhook is not configured: %s",
        provider,
        str(exc).splitlines()[0][:200],
        extra={"provider": provider},
    )
    return HttpResponseNotFound(b"This webhook is not configured.")


def tracking_urls() -> list:
    """anymail's tracking webhook URLs (one per provider), answered only once a webhook
    secret is set: an open webhook would let anyone suppress any address."""
    from anymail import urls as anymail_urls
    from anymail.exceptions import AnymailAPIError
    from django.http import Http404, HttpResponseBadRequest
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    def guarded(view, name):
        @csrf_exempt
        def wrapper(request, *args, **kwargs):
            if not webhooks_configured():
                raise Http404
            try:
                return view(request, *args, **kwargs)
            except NotRecorded:
                raise
            except ImproperlyConfigured as exc:
                return misconfigured(name, exc)
            except (
                AnymailAPIError,  # e.g. Amazon SNS: a message type it does not know
                KeyError,
                IndexError,
                TypeError,
                ValueError,
                AttributeError,
            ) as exc:
                # A payload not in the provider's shape: retrying it cannot help.
                logger.warning(
                    "The %s webhook got a malformed payload: %s",
                    name.removesuffix("_tracking_webhook"),
                    type(exc).__name__,
                )
                return HttpResponseBadRequest(b"Malformed payload.")

        return wrapper

    return [
        path(str(p.pattern), guarded(p.callback, p.name), name=p.name)
        for p in anymail_urls.urlpatterns
        if p.name and p.name.endswith("_tracking_webhook")
    ]
