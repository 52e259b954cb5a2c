"""What a patron file may hold: the fields, each ILS's column names for them, and the
values read as consent."""

from __future__ import annotations

import json
import re

from django.utils.translation import gettext as _

from .models import notice_kinds_default

# The postal address, for printed letters. Optional: a file without these columns leaves
# the addresses on record as they are.
ADDRESS_FIELDS = ("address_line1", "address_line2", "city", "region", "postcode", "country")

# Target fields of a patron row, in the order the staging table holds them.
FIELDS = (
    "card_number",
    "first_name",
    "last_name",
    "email",
    "phone",
    "branch",
    "category",
    "expires_on",
    "language",
    "consent",
    *ADDRESS_FIELDS,
)
# Columns read for a decision rather than stored: a flag that the address on record is
# known to be wrong (Koha's "gone, no address", set when mail comes back). A flagged row's
# address is removed, so no letter goes to it.
FLAG_FIELDS = ("address_gone",)
# Longest value of each address field: what fits an envelope's window. A longer one is a
# problem on its line and column rather than a cut-off address.
ADDRESS_LIMITS = {
    "address_line1": 100,
    "address_line2": 100,
    "city": 60,
    "region": 60,
    "postcode": 25,
    "country": 60,
}

# Each preset maps a target field to the file columns that can fill it, first found wins.
PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    # Koha's patron import/export (tools/import_borrowers, the borrowers table's columns).
    "koha": {
        "card_number": ("cardnumber",),
        "first_name": ("firstname",),
        "last_name": ("surname",),
        "email": ("email",),
        "phone": ("mobile", "smsalertnumber", "phone"),
        "branch": ("branchcode",),
        "category": ("categorycode",),
        "expires_on": ("dateexpiry",),
        "language": ("lang",),
        "consent": ("patron_attributes",),
        # The borrowers table's main address (not the alternate B_ or altcontact ones).
        "address_line1": ("address",),
        "address_line2": ("address2",),
        "city": ("city",),
        "region": ("state",),
        "postcode": ("zipcode",),
        "country": ("country",),
        "address_gone": ("gonenoaddress",),
    },
    # Evergreen's migration staging tables (migration-tools' patron staging columns).
    "evergreen": {
        "card_number": ("barcode", "cardnumber"),
        "first_name": ("first_given_name", "first_name"),
        "last_name": ("family_name", "last_name"),
        "email": ("email",),
        "phone": ("day_phone", "evening_phone", "other_phone"),
        "branch": ("home_library", "home_ou"),
        "category": ("profile",),
        "expires_on": ("expire_date",),
        "language": ("locale", "language"),
        "consent": ("consent",),
        # The staging mailing address (actor.usr_address's columns).
        "address_line1": ("street1",),
        "address_line2": ("street2",),
        "city": ("city", "city_name"),
        "region": ("state", "county"),
        "postcode": ("post_code", "postal_code"),
        "country": ("country",),
    },
    "generic": {
        "card_number": ("card_number", "card", "barcode", "cardnumber"),
        "first_name": ("first_name", "firstname", "given_name"),
        "last_name": ("last_name", "surname", "family_name"),
        "email": ("email", "email_address"),
        "phone": ("phone", "mobile", "telephone"),
        "branch": ("branch", "branchcode", "home_branch", "library"),
        "category": ("category", "patron_category", "categorycode"),
        "expires_on": ("expires", "expiry", "expires_on", "dateexpiry"),
        "language": ("language", "lang", "locale"),
        "consent": ("consent", "notices"),
        "address_line1": ("address_line1", "address1", "address", "street", "street1"),
        "address_line2": ("address_line2", "address2", "street2"),
        "city": ("city", "town", "locality"),
        "region": ("region", "state", "province", "county"),
        "postcode": ("postcode", "postal_code", "post_code", "zipcode", "zip"),
        "country": ("country",),
        "address_gone": ("gonenoaddress", "address_gone", "bad_address"),
    },
}
PRESET_CHOICES = [
    ("koha", "Koha"),
    ("evergreen", "Evergreen"),
    ("generic", _("Generic CSV")),
]
# Koha keeps consent in an extended attribute, ``CODE:value,CODE:value``.
CONSENT_ATTRIBUTE = "NOTICES"
YES = {"1", "y", "yes", "true", "oui", "si", "sí"}
NO = {"0", "n", "no", "false", "non"}

# Deliberately simple: one @, no spaces, a dot in the domain. The SMTP server is the judge.
EMAIL = re.compile(r"^[^@\s,;<>\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z]{2,4})?$")


def mapping_for(preset: str, header: list[str]) -> dict[str, str]:
    """``{field: column}`` the preset finds in ``header``."""
    lower = {h.lower(): h for h in header}
    found = {}
    for target, candidates in PRESETS.get(preset, PRESETS["generic"]).items():
        for candidate in candidates:
            if candidate in lower:
                found[target] = lower[candidate]
                break
    return found


def default_kinds_json() -> str:
    return json.dumps(notice_kinds_default())
