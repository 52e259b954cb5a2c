"""JSON log lines for production, with personal data masked before anything is written.

Patron and staff addresses must never reach log storage: the filter masks fields whose
names say they hold personal data, and email addresses and phone numbers found in any
message or field value.
"""

import json
import logging
import re
from datetime import UTC, datetime

PERSONAL_FIELDS = frozenset(
    {"email", "phone", "address", "full_name", "name", "first_name", "last_name", "to",
     "recipient", "recipients", "barcode", "card_number", "birth_date"}
)  # fmt: skip
MASK = "[redacted]"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Seven or more digits, allowing the usual separators: phone numbers and card barcodes.
PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")

# Attributes every LogRecord has; anything else was passed in ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}


def mask_text(text: str) -> str:
    return PHONE.sub(MASK, EMAIL.sub(MASK, text))


def mask_value(key: str, value):
    if key.lower() in PERSONAL_FIELDS:
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(key, v) for v in value]
    return value


class MaskPersonalData(logging.Filter):
    """Masks personal data in the message, its arguments and ``extra`` fields, in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage())
        record.args = None
        for key in set(vars(record)) - _STANDARD:
            setattr(record, key, mask_value(key, getattr(record, key)))
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        record.exc_info = None
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in set(vars(record)) - _STANDARD:
            value = getattr(record, key)
            entry[key] = value if _jsonable(value) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str)


def _jsonable(value) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
