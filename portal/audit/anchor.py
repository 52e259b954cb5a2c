"""Checkpoints of the chain's head, kept where the database cannot rewrite them.

Each checkpoint names the newest entry (its id and hash) and how many entries there were
up to it, with a keyed tag. They are appended to a file (``AUDIT_CHECKPOINT_FILE``; make it
append-only on the server, ``chattr +a``, or ship it to another machine) and, when
``AUDIT_CHECKPOINT_EMAILS`` is set, mailed there once a day (the office keeps the mail).
``verify_audit`` compares the chain with every checkpoint: an entry a checkpoint names
that is gone means the newest entries were deleted; one whose hash differs means the
chain was rewritten after it.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from . import chain
from .models import AuditEntry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    at: str
    id: int
    hash: str
    count: int
    mac: str = ""
    source: str = ""  # where it was read (the file and line, or "given")
    mailed: bool = False

    def text(self) -> str:
        return f"{self.at}|{self.id}|{self.hash}|{self.count}"

    @property
    def genuine(self) -> bool:
        return bool(self.mac) and hmac.compare_digest(self.mac, chain.mac(self.text()))


def checkpoint_file() -> Path | None:
    path = getattr(settings, "AUDIT_CHECKPOINT_FILE", "") or ""
    return Path(path) if path else None


def emails() -> list[str]:
    return list(getattr(settings, "AUDIT_CHECKPOINT_EMAILS", []) or [])


def read(path: Path | None = None) -> list[Checkpoint]:
    """Every checkpoint in the file (none when it is not configured or not there yet)."""
    path = path or checkpoint_file()
    if path is None or not path.exists():
        return []
    found = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                found.append(
                    Checkpoint(
                        at=str(raw["at"]),
                        id=int(raw["id"]),
                        hash=str(raw["hash"]),
                        count=int(raw["count"]),
                        mac=str(raw.get("mac", "")),
                        source=f"{path}:{number}",
                        mailed=bool(raw.get("mailed")),
                    )
                )
            except (ValueError, KeyError, TypeError):
                found.append(Checkpoint("", 0, "", 0, "", f"{path}:{number}"))
    return found


def parse_head(text: str) -> Checkpoint:
    """``ID:HASH`` or ``ID:HASH:COUNT`` as given to verify_audit (from a mailed checkpoint)."""
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not parts[0].isdigit():
        raise ValueError(f"not ID:HASH[:COUNT]: {text!r}")
    count = int(parts[2]) if len(parts) == 3 else -1
    return Checkpoint(at="given", id=int(parts[0]), hash=parts[1], count=count, source="given")


def head() -> Checkpoint | None:
    last = AuditEntry.objects.order_by("-pk").values_list("pk", "hash").first()
    if last is None:
        return None
    count = AuditEntry.objects.count()
    at = timezone.now().isoformat(timespec="seconds")
    point = Checkpoint(at=at, id=last[0], hash=last[1], count=count)
    return Checkpoint(**{**point.__dict__, "mac": chain.mac(point.text())})


def write(force: bool = False, mail: bool | None = None) -> Checkpoint | None:
    """Append the head to the checkpoint file when it moved since the last one (or when
    ``force``), and mail it when mail is due (daily) or asked for. Returns what was written."""
    path = checkpoint_file()
    addresses = emails()
    if path is None and not addresses:
        return None
    point = head()
    if point is None:
        return None
    previous = read(path)
    last = previous[-1] if previous else None
    if mail is None:
        mailed = [p for p in previous if p.mailed]
        mail = bool(addresses) and (
            not mailed or _older_than(mailed[-1].at, timedelta(hours=mail_hours()))
        )
    unchanged = last is not None and last.id == point.id and last.hash == point.hash
    if unchanged and not force and not mail:
        return None
    if mail and addresses:
        _mail(point, addresses)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({**_fields(point), "mailed": bool(mail and addresses)})
        # O_APPEND: every write lands at the end, whatever else has the file open.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    return point


def mail_hours() -> float:
    return float(getattr(settings, "AUDIT_CHECKPOINT_MAIL_HOURS", 24))


def _fields(point: Checkpoint) -> dict:
    return {"at": point.at, "id": point.id, "hash": point.hash, "count": point.count,
            "mac": point.mac}  # fmt: skip


def _older_than(at: str, age: timedelta) -> bool:
    from datetime import datetime

    try:
        return timezone.now() - datetime.fromisoformat(at) >= age
    except ValueError:
        return True


def _mail(point: Checkpoint, addresses: list[str]) -> None:
    from django.core.mail import send_mail

    body = (
        "The audit log's newest entry, for your records. To check the log against it:\n\n"
        f"    manage.py verify_audit --head {point.id}:{point.hash}:{point.count}\n\n"
        f"{json.dumps(_fields(point), indent=2)}\n"
    )
    try:
        send_mail(f"Audit checkpoint #{point.id}", body, None, addresses)
    except Exception as exc:  # noqa: BLE001 - the file still gets its line
        logger.error("Audit checkpoint not mailed: %s", type(exc).__name__)


def on_periodic(sender, **kwargs) -> None:
    """Beat's periodic fan-out: a checkpoint whenever the head has moved."""
    try:
        write()
    except OSError as exc:
        logger.error("Audit checkpoint not written: %s", exc)
