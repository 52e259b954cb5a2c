"""Every model of the app, where Django and the migrations look for them: one app (label
``patron_notices``), one set of migrations. Each part keeps its own: the patron
directory's in ``directory/models.py``, the notice engine's in ``notices/models.py``. Code
inside the plugin imports them from there; this module is for Django, the migrations
(``import_storage``, ``notice_kinds_default`` and ``print_storage`` are named in them) and
code outside the plugin."""

from .directory.models import (
    NOTICE_KINDS,
    Contact,
    ImportJob,
    ImportProblem,
    Patron,
    PostalAddress,
    PreferenceChange,
    import_storage,
    notice_kinds_default,
)
from .notices.models import (
    Delivery,
    LibraryParticipation,
    LibrarySender,
    Notice,
    NoticeApprovalTask,
    PrintRun,
    message_id_for,
    print_storage,
)

__all__ = [
    "NOTICE_KINDS",
    "Contact",
    "Delivery",
    "ImportJob",
    "ImportProblem",
    "LibraryParticipation",
    "LibrarySender",
    "Notice",
    "NoticeApprovalTask",
    "Patron",
    "PostalAddress",
    "PreferenceChange",
    "PrintRun",
    "import_storage",
    "message_id_for",
    "notice_kinds_default",
    "print_storage",
]
