"""The consortium office's admin views: Wagtail's generic views, saving through services.

Most of this is configuration of Wagtail's ``IndexView`` / ``CreateView`` / ``EditView``
/ ``DeleteView``; the two custom views are the people import and the per-library
module switches, which have no model form to speak of.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView, TemplateView
from wagtail.admin import messages
from wagtail.admin.ui.menus import MenuItem
from wagtail.admin.ui.tables import Column, DateColumn, TitleColumn
from wagtail.admin.views.generic import CreateView, DeleteView, EditView, IndexView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from portal.plugins import available_plugins

from . import access
from .exceptions import ActionRefused
from .forms import PeopleImportForm
from .imports import import_people
from .invitations import do_invite
from .models import MemberLibrary, Membership, PluginState
from .role_services import do_create_role, do_edit_role
from .roles import role_name
from .services import do_create_library, do_remove_membership, do_switch_plugin, do_update_library
from .switches import enabled_plugins_by_library


def _indented_name(library: MemberLibrary) -> str:
    # Em spaces survive HTML whitespace collapsing, so the tree shows in the listing.
    return "\u2003" * (library.depth - 1) + library.name


# --- member libraries --------------------------------------------------------------------


class MemberLibraryIndexView(IndexView):
    """Every member library in tree order (by path), indented by depth."""

    modules_url_name = None

    def order_queryset(self, queryset):
        return queryset.order_by("path")

    @cached_property
    def columns(self):
        title_column = self._get_title_column_class(TitleColumn)
        return [
            title_column(
                "name",
                label=gettext_lazy("Name"),
                accessor=_indented_name,
                get_url=self.get_edit_url,
            ),
            Column("code", label=gettext_lazy("Code")),
            Column("kind", label=gettext_lazy("Kind"), accessor="get_kind_display"),
            Column("library_type", label=gettext_lazy("Type"), accessor="get_library_type_display"),
            Column("vote_weight", label=gettext_lazy("Vote weight")),
        ]

    def get_list_more_buttons(self, instance):
        buttons = super().get_list_more_buttons(instance)
        if self.modules_url_name and access.can(
            self.request.user, "portal.manage_plugins", instance
        ):
            buttons.append(
                MenuItem(
                    _("Modules"),
                    url=reverse(self.modules_url_name, args=(instance.pk,)),
                    icon_name="cogs",
                    priority=40,
                )
            )
        return buttons


def _refused(view, form, refusal: ActionRefused):
    form.add_error(None, refusal.message)
    return view.form_invalid(form)


class RefusalShownOnForm:
    """A service's refusal (raised while saving) comes back on the form, saying why."""

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except ActionRefused as refusal:
            return _refused(self, form, refusal)


class MemberLibraryCreateView(RefusalShownOnForm, CreateView):
    def save_instance(self):
        library = self.form.save(commit=False)
        return do_create_library(self.request.user, self.form.cleaned_data["parent"], library)


class MemberLibraryEditView(RefusalShownOnForm, EditView):
    def save_instance(self):
        library = self.form.save(commit=False)
        return do_update_library(self.request.user, library, set(self.form.changed_data))


class LibraryModulesView(WagtailAdminTemplateMixin, TemplateView):
    """Switch each plugin on or off for one library (through ``do_switch_plugin``)."""

    template_name = "members/admin/modules.html"
    page_title = gettext_lazy("Modules")
    header_icon = "cogs"
    index_url_name = None

    def dispatch(self, request, pk):
        self.library = get_object_or_404(MemberLibrary, pk=pk)
        if not access.can(request.user, "portal.manage_plugins", self.library):
            raise PermissionDenied
        return super().dispatch(request, pk)

    def get_page_subtitle(self):
        return self.library.name

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": reverse(self.index_url_name), "label": _("Member libraries")},
            {"url": "", "label": self.library.name},
        ]

    def post(self, request, pk):
        label = request.POST.get("plugin", "")
        enabled = request.POST.get("enabled") == "1"
        try:
            do_switch_plugin(request.user, self.library, label, enabled)
        except ActionRefused as refusal:
            messages.error(request, str(refusal))
        else:
            if enabled:
                messages.success(request, _("Module switched on."))
            else:
                messages.success(request, _("Module switched off."))
        return redirect(request.path)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        on = enabled_plugins_by_library([self.library])[self.library.pk]
        states = {s.plugin: s for s in PluginState.objects.all()}
        context["library"] = self.library
        context["modules"] = [
            {
                "label": plugin.label,
                "name": plugin.meta.name,
                "description": plugin.meta.description,
                "enabled": plugin.label in on,
                "mandatory": bool(states.get(plugin.label) and states[plugin.label].mandatory),
                "installed": not (states.get(plugin.label) and not states[plugin.label].enabled),
            }
            for plugin in available_plugins()
        ]
        return context


# --- people ------------------------------------------------------------------------------


class MembershipIndexView(IndexView):
    list_filter = ["library", "role"]

    def get_base_queryset(self):
        return super().get_base_queryset().select_related("user", "library")

    @cached_property
    def columns(self):
        title_column = self._get_title_column_class(TitleColumn)
        return [
            title_column(
                "user",
                label=gettext_lazy("Person"),
                accessor=lambda m: f"{m.user.get_full_name()} <{m.user.email}>",
                get_url=lambda m: None,
            ),
            Column("library", label=gettext_lazy("Library"), accessor="library.name"),
            Column(
                "role",
                label=gettext_lazy("Role"),
                accessor=lambda membership: role_name(membership.role),
            ),
            DateColumn("created_at", label=gettext_lazy("Since")),
        ]


class MembershipCreateView(RefusalShownOnForm, CreateView):
    """Appoint a person at a library: invites them if they are new (``do_invite``)."""

    def save_instance(self):
        data = self.form.cleaned_data
        invitation = do_invite(
            self.request.user, data["email"], data["full_name"], data["library"], data["role"]
        )
        self.invitation = invitation
        return invitation.membership or invitation.appointment

    def get_success_message(self, instance):
        if self.invitation.offered:
            return _("%(person)s already has an account: they have been asked to accept.") % {
                "person": instance.user.email
            }
        if self.invitation.sent:
            return _("%(person)s appointed; an invitation is on its way.") % {
                "person": instance.user.email
            }
        return _("%(person)s appointed.") % {"person": instance.user.email}

    def get_success_url(self):
        return reverse(self.index_url_name)

    def get_success_buttons(self):
        return []


class MembershipDeleteView(DeleteView):
    page_title = gettext_lazy("Remove")
    success_message = gettext_lazy("%(object)s removed.")

    def delete_action(self):
        do_remove_membership(self.request.user, self.object)

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except ActionRefused as refusal:
            messages.error(self.request, str(refusal))
            return redirect(self.get_success_url())


# --- import ------------------------------------------------------------------------------


class PeopleImportView(WagtailAdminTemplateMixin, FormView):
    """Upload a CSV of people; show every bad row, or what was created."""

    template_name = "members/admin/import.html"
    form_class = PeopleImportForm
    page_title = gettext_lazy("Import people")
    header_icon = "upload"

    def dispatch(self, request, *args, **kwargs):
        if not access.can_anywhere(request.user, "portal.manage_people"):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        report = import_people(self.request.user, form.cleaned_data["file"])
        if report.ok:
            messages.success(
                self.request,
                _(
                    "Imported %(rows)s rows: %(people)s new people, %(memberships)s roles "
                    "added, %(invitations)s invitations sent."
                )
                % {
                    "rows": report.rows,
                    "people": report.people_created,
                    "memberships": report.memberships_added,
                    "invitations": report.invitations_sent,
                },
            )
        return self.render_to_response(self.get_context_data(form=form, report=report))


# --- roles -------------------------------------------------------------------------------


class RoleIndexView(IndexView):
    """Every role with how many people hold it; retired ones last."""

    def get_base_queryset(self):
        from django.db.models import Count, OuterRef, Subquery

        holders = (
            Membership.objects.filter(role=OuterRef("code"))
            .order_by()
            .values("role")
            .annotate(n=Count("pk"))
            .values("n")
        )
        roles = super().get_base_queryset().annotate(holders=Subquery(holders))
        return roles.order_by("retired", "pk")

    @cached_property
    def columns(self):
        return [
            TitleColumn(
                "name", label=gettext_lazy("Name"), url_name=self.edit_url_name, sort_key="name"
            ),
            Column("code", label=gettext_lazy("Code")),
            Column("holders", label=gettext_lazy("People holding it"), accessor=_holders),
            Column(
                "requires_mfa", label=gettext_lazy("Two-factor"), accessor=_yes_no("requires_mfa")
            ),
            Column("retired", label=gettext_lazy("Retired"), accessor=_yes_no("retired")),
        ]


def _holders(role) -> int:
    return role.holders or 0


def _yes_no(field):
    return lambda role: _("Yes") if getattr(role, field) else ""


class RoleCreateView(RefusalShownOnForm, CreateView):
    def save_instance(self):
        return do_create_role(self.request.user, self.form.cleaned_data["code"], self.form.shape())


class RoleEditView(RefusalShownOnForm, EditView):
    success_message = gettext_lazy(
        "%(object)s saved; everyone holding it may now do exactly what it carries."
    )

    def save_instance(self):
        return do_edit_role(self.request.user, self.object, self.form.shape())
