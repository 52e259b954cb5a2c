"""Who may do what in the plugin, asked of ``portal.access``: the permissions' names and the
notice rules that the models (the approval task) and the services both ask. Imports no
module of the plugin, so the models can use it."""

from __future__ import annotations

from portal import access
from portal.members.models import MemberLibrary, Membership
from portal.members.selectors import consortium_root as consortium

# The patron directory.
VIEW = "patron_notices.view_patrons"
IMPORT = "patron_notices.import_patrons"
COUNTS = "patron_notices.view_patron_counts"
RECORDS = "patron_notices.view_patron_records"
# Notices.
DRAFT = "patron_notices.draft_notices"
TAKE_PART = "patron_notices.approve_notices"
SEND = "patron_notices.send_notices"


def may_send(user) -> bool:
    return access.can(user, SEND, consortium())


def may_draft(user) -> bool:
    """Drafting is open to anyone who may draft for some library; sending is the office's."""
    return access.can_anywhere(user, DRAFT)


def may_approve(user, notice) -> bool:
    """The second pair of eyes: someone who may send notices, never the notice's author."""
    return may_send(user) and notice.author_id != getattr(user, "pk", None)


def author_libraries(notice) -> list[MemberLibrary]:
    """The libraries a draft belongs to: those of its author's memberships."""
    if notice.author_id is None:
        return []
    return [
        m.library
        for m in Membership.objects.filter(user_id=notice.author_id).select_related("library")
    ]


def may_edit(user, notice) -> bool:
    """A draft is edited (or deleted) by the office and by whoever may draft for one of its
    author's libraries (a system's people for its branches' drafts too); past draft, nobody."""
    if notice.state != notice.State.DRAFT:
        return False
    if may_send(user):
        return True
    return any(access.can(user, DRAFT, library) for library in author_libraries(notice))


def may_view(user, notice) -> bool:
    """The notice's admin pages: the office sees every notice; someone who drafts sees the
    drafts they may edit and every notice past draft (with their own libraries' side only:
    ``selectors.notice_libraries``)."""
    if may_send(user):
        return True
    if not may_draft(user):
        return False
    return notice.state != notice.State.DRAFT or may_edit(user, notice)
