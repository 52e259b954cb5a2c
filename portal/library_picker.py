"""Form fields that pick member libraries among hundreds: grouped by system and type.

A consortium has 97 to 525 members. One flat list of names (and a Ctrl-click multiple
select) is where a person loses their place, so every form that picks libraries uses
these fields:

- ``LibraryChoiceField``: one library, a ``<select>`` with an ``<optgroup>`` per group;
- ``LibraryMultipleChoiceField``: several, a ``<fieldset>`` of checkboxes per group.

A group is a library system with its members and branches, or, for libraries in no
system, their type ("Independent academic libraries"). Both widgets carry
``data-library-picker``; ``portal/static/portal/library-picker.js`` adds a search box that
narrows the options as a person types (the form works the same without it). Grouping
costs one query for the systems, whatever the number of libraries.
"""

from __future__ import annotations

from collections import OrderedDict

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from portal.members.models import MemberLibrary

PICKER_SCRIPT = "portal/library-picker.js"


def group_label(library: MemberLibrary, systems: dict[str, MemberLibrary]) -> str:
    """The group a library is listed under: its system, else its type."""
    for path, system in systems.items():
        if library.path.startswith(path):
            return system.name
    if library.kind == MemberLibrary.Kind.CONSORTIUM:
        return _("The consortium")
    return _("Independent %(type)s libraries") % {
        "type": library.get_library_type_display().lower()
    }


def grouped(libraries, value=lambda library: library.pk) -> list[tuple[str, list]]:
    """``[(group, [(value, label), ...]), ...]``: systems first (by tree order), then types."""
    libraries = list(libraries)
    systems = {
        s.path: s
        for s in MemberLibrary.objects.filter(kind=MemberLibrary.Kind.SYSTEM).order_by("path")
    }
    groups: OrderedDict[str, list] = OrderedDict((s.name, []) for s in systems.values())
    for library in libraries:
        label = library.name
        if library.kind == MemberLibrary.Kind.SYSTEM:
            label = _("%(name)s (the whole system)") % {"name": library.name}
        elif library.kind == MemberLibrary.Kind.BRANCH:
            label = _("%(name)s (branch)") % {"name": library.name}
        groups.setdefault(group_label(library, systems), []).append((value(library), label))
    return [(name, options) for name, options in groups.items() if options]


class GroupedChoices:
    """Renders a model choice field's options nested by group (validation still goes by
    the field's queryset), so the widget groups in any form: the portal's or Wagtail's."""

    def optgroups(self, name, value, attrs=None):
        flat = self.choices
        queryset = getattr(flat, "queryset", None)
        if queryset is None:
            return super().optgroups(name, value, attrs)
        field = flat.field
        key = field.to_field_name or "pk"
        choices = grouped(queryset.order_by("path"), value=lambda library: getattr(library, key))
        if getattr(field, "empty_label", None) is not None:
            choices.insert(0, ("", field.empty_label))
        self.choices = choices
        try:
            return super().optgroups(name, value, attrs)
        finally:
            self.choices = flat


def _picker_attrs() -> dict:
    return {
        "data-library-picker": "",
        "data-search-label": _lazy("Find a library"),
        # {n}: how many libraries the search shows.
        "data-count-label": _lazy("{n} shown"),
    }


class LibrarySelect(GroupedChoices, forms.Select):
    def __init__(self, attrs=None):
        super().__init__({**_picker_attrs(), **(attrs or {})})

    class Media:
        js = [PICKER_SCRIPT]


class LibraryCheckboxes(GroupedChoices, forms.CheckboxSelectMultiple):
    """Checkboxes in a fieldset per group: no Ctrl-click, each group can be read on its own."""

    template_name = "portal/widgets/library_checkboxes.html"

    class Media:
        js = [PICKER_SCRIPT]


class LibraryChoiceField(forms.ModelChoiceField):
    widget = LibrarySelect


class LibraryMultipleChoiceField(forms.ModelMultipleChoiceField):
    widget = LibraryCheckboxes
