"""The per-library people report that plugins add columns to.

One page per member library lists its people (memberships held on the library or any of
its branches) and, beside each person, a column or more from every plugin that is
available and switched on for that library — a course's completion next to a policy's
acknowledgement, say — without the core or any plugin importing another.

The contract for a plugin:

* declare ``PluginMeta(report_columns="my_plugin.reports.report_columns")``;
* that callable is called as ``report_columns(library, people)`` where ``library`` is a
  :class:`~portal.members.models.MemberLibrary` the viewer may see and ``people`` is the
  list of :class:`ReportPerson` rows of the report (already chosen by the core);
* it returns a list of :class:`ReportColumn`, each with a ``key`` unique within the
  plugin, a translatable ``title`` and ``cells``: ``{user_id: ReportCell}``; a person
  missing from ``cells`` gets an empty cell;
* it must answer in a number of queries that does not grow with the number of people
  or libraries (filter by ``[p.user_id for p in people]`` or by the library's subtree,
  in one query per column, never one per person);
* it must show nothing about people outside ``people`` (the viewer's access was
  checked for ``library`` only), and may return ``[]`` when it has nothing to say.

The caller (a plugin's view) is responsible for checking that the viewer may see the
report for ``library``; this module only assembles it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.members.models import MemberLibrary, Membership
from portal.members.switches import enabled_plugins_by_library
from portal.plugins import available_plugins, import_string_or_none


@dataclass(frozen=True)
class ReportPerson:
    user_id: int
    name: str
    email: str
    roles: tuple[str, ...]
    libraries: tuple[str, ...]


@dataclass(frozen=True)
class ReportCell:
    """One cell. ``state`` lets templates colour it: ok, pending, overdue, or ""."""

    text: str
    state: str = ""


@dataclass
class ReportColumn:
    key: str
    title: Any
    cells: dict[int, ReportCell] = field(default_factory=dict)
    plugin: str = ""

    def cell(self, user_id: int) -> ReportCell:
        return self.cells.get(user_id, ReportCell(""))


@dataclass
class PeopleReport:
    library: MemberLibrary
    people: list[ReportPerson]
    columns: list[ReportColumn]

    def rows(self):
        """``(person, [cell per column])`` in people order."""
        for person in self.people:
            yield person, [column.cell(person.user_id) for column in self.columns]


def report_people(library: MemberLibrary) -> list[ReportPerson]:
    """Everyone holding a role on ``library`` or below it, in one query."""
    people: dict[int, dict] = {}
    rows = (
        Membership.objects.filter(library__path__startswith=library.path)
        .order_by("user__full_name", "user__email", "library__name")
        .values_list("user_id", "user__full_name", "user__email", "role", "library__name")
    )
    for user_id, name, email, role, library_name in rows:
        entry = people.setdefault(
            user_id, {"name": name or email, "email": email, "roles": [], "libraries": []}
        )
        if role not in entry["roles"]:
            entry["roles"].append(role)
        if library_name not in entry["libraries"]:
            entry["libraries"].append(library_name)
    return [
        ReportPerson(uid, e["name"], e["email"], tuple(e["roles"]), tuple(e["libraries"]))
        for uid, e in people.items()
    ]


def people_report(library: MemberLibrary) -> PeopleReport:
    """The people of ``library`` with every enabled plugin's columns."""
    people = report_people(library)
    enabled = enabled_plugins_by_library([library]).get(library.pk, set())
    columns: list[ReportColumn] = []
    for plugin in available_plugins():
        path = getattr(plugin.meta, "report_columns", None)
        if not path or plugin.label not in enabled:
            continue
        provider = import_string_or_none(path)
        for column in provider(library, people) or []:
            column.plugin = plugin.label
            columns.append(column)
    return PeopleReport(library=library, people=people, columns=columns)
