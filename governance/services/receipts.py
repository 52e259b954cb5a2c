"""A ballot's receipt: the code its voter is shown once, the check stored with the ballot
(whoever holds the code may change the ballot) and the fingerprint the public ballot list
shows. Two different hashes, so the list does not reveal the check."""

from __future__ import annotations

import hashlib
import secrets
from base64 import b32encode


def new_receipt() -> str:
    raw = b32encode(secrets.token_bytes(15)).decode()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def clean_receipt(code: str) -> str:
    """The code as typed, without its dashes, spaces and case."""
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def receipt_check(code: str) -> str:
    return hashlib.sha256(b"ballot:" + clean_receipt(code).encode()).hexdigest()


def fingerprint(code: str) -> str:
    """What the public ballot list shows for a receipt; a different hash from the check."""
    return hashlib.sha256(b"choice:" + clean_receipt(code).encode()).hexdigest()[:20]
