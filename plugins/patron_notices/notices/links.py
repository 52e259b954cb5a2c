"""The links a notice carries: unsubscribe tokens, the site's address, Message-ID domain."""

from __future__ import annotations

import logging

from django.core import signing
from django.urls import reverse

from ..conf import conf
from .models import Delivery

logger = logging.getLogger(__name__)


UNSUBSCRIBE_SALT = "patron_notices.unsubscribe"


def unsubscribe_token(delivery_id: int) -> str:
    # Names the delivery: the contact, the library and the category follow from it.
    return signing.dumps(delivery_id, salt=UNSUBSCRIBE_SALT)


def delivery_from_token(token: str) -> Delivery | None:
    try:
        delivery_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return (
        Delivery.objects.select_related("notice", "library", "contact")
        .filter(pk=delivery_id)
        .first()
    )


def base_url() -> str:
    return conf().base_url.rstrip("/")


def unsubscribe_prefix() -> tuple[str, str]:
    """The unsubscribe URL before and after its token, reversed once rather than per message."""
    url = base_url() + reverse("patron_notices:unsubscribe", args=["TOKEN"])
    before, _token, after = url.rpartition("TOKEN")
    return before, after


def message_id_domain() -> str:
    return conf().message_id_domain
