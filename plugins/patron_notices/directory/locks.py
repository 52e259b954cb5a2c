"""Who may write a library's patrons when: the locks every writer of the directory takes."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from portal.members.models import MemberLibrary

# Held shared by every writer that links patrons to contacts, exclusively by the purge of
# orphaned contacts: a contact an import found cannot vanish before its patrons commit
# (the patron's contact reference has no database constraint; see models.Patron).
CONTACTS_LOCK = "patron_notices.contacts"


def hold_references(library_id: int | None, branch_ids: Iterable[int]) -> None:
    """Inside a transaction: keep the library, branches and contacts this write refers to.

    FOR KEY SHARE on the library and branch rows is what a foreign-key check takes, once
    per row referred to rather than once per patron; the shared advisory lock keeps the
    contacts (see above).
    """
    if connection.vendor != "postgresql":
        return  # SQLite serialises writers: nothing can be deleted meanwhile
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(hashtext(%s))", [CONTACTS_LOCK])
        ids = sorted({*branch_ids, *([library_id] if library_id else [])})
        if ids:
            cursor.execute(
                f"SELECT id FROM {MemberLibrary._meta.db_table}"  # noqa: S608
                " WHERE id = ANY(%s) FOR KEY SHARE",
                [ids],
            )


def hold_contacts_exclusively() -> None:
    """Inside a transaction: wait for writers linking patrons to contacts (the purge)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [CONTACTS_LOCK])


def lock_library_patrons(library_id: int) -> None:
    """Inside a transaction: one writer of a library's patrons at a time (imports, the
    sync API), so "update the cards we have, insert the others" holds."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext('patron_notices.import'), %s)",
                [library_id],
            )
