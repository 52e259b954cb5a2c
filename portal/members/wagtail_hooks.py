"""The office's "Member libraries" admin: the library tree, people, and the people import.

What a person may do here is decided by ``portal.access`` through the permission
policies below (registered first, before any viewset asks Wagtail for a fallback).
"""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.base import ViewSet, ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permissions import register_permission_policy

from portal.admin_policies import RolePermissionPolicy

from . import access, admin_views
from .forms import MemberLibraryCreateForm, MemberLibraryForm, MembershipAddForm, RoleForm
from .models import MemberLibrary, Membership, Role

# Libraries are never deleted from the admin (their history hangs off them); memberships
# are never edited, only added and removed.
register_permission_policy(
    MemberLibrary,
    RolePermissionPolicy(MemberLibrary, {"add", "change", "view"}, access.is_consortium_admin),
)
register_permission_policy(
    Membership,
    RolePermissionPolicy(Membership, {"add", "delete", "view"}, access.is_consortium_admin),
)

# Roles are shaped by the office and retired, never deleted: memberships name their code.
register_permission_policy(
    Role, RolePermissionPolicy(Role, {"add", "change", "view"}, access.is_consortium_admin)
)


class MemberLibraryViewSet(ModelViewSet):
    model = MemberLibrary
    name = "member_libraries"
    icon = "site"
    menu_label = _("Libraries")
    index_view_class = admin_views.MemberLibraryIndexView
    add_view_class = admin_views.MemberLibraryCreateView
    edit_view_class = admin_views.MemberLibraryEditView
    copy_view_enabled = False
    search_fields = ["name", "code"]
    list_per_page = 100

    def get_form_class(self, for_update=False):
        return MemberLibraryForm if for_update else MemberLibraryCreateForm

    def get_index_view_kwargs(self, **kwargs):
        return super().get_index_view_kwargs(
            modules_url_name=self.get_url_name("modules"), **kwargs
        )

    @property
    def modules_view(self):
        return admin_views.LibraryModulesView.as_view(index_url_name=self.get_url_name("index"))

    def get_urlpatterns(self):
        return [
            *super().get_urlpatterns(),
            path("modules/<int:pk>/", self.modules_view, name="modules"),
        ]


class MembershipViewSet(ModelViewSet):
    model = Membership
    name = "memberships"
    icon = "group"
    menu_label = _("People")
    index_view_class = admin_views.MembershipIndexView
    add_view_class = admin_views.MembershipCreateView
    delete_view_class = admin_views.MembershipDeleteView
    copy_view_enabled = False

    def get_form_class(self, for_update=False):
        return MembershipAddForm


class RoleViewSet(ModelViewSet):
    model = Role
    name = "roles"
    icon = "key"
    menu_label = _("Roles")
    index_view_class = admin_views.RoleIndexView
    add_view_class = admin_views.RoleCreateView
    edit_view_class = admin_views.RoleEditView
    copy_view_enabled = False
    inspect_view_enabled = False
    search_fields = ["name", "code"]

    def get_form_class(self, for_update=False):
        return RoleForm


class PeopleImportMenuItem(MenuItem):
    def is_shown(self, request):
        return access.can_anywhere(request.user, "portal.manage_people")


class PeopleImportViewSet(ViewSet):
    name = "import_people"
    icon = "upload"
    menu_label = _("Import people")
    menu_item_class = PeopleImportMenuItem

    def get_urlpatterns(self):
        return [path("", admin_views.PeopleImportView.as_view(), name="index")]


class MemberLibrariesGroup(ViewSetGroup):
    menu_label = _("Member libraries")
    menu_icon = "site"
    menu_order = 200
    items = (MemberLibraryViewSet, MembershipViewSet, RoleViewSet, PeopleImportViewSet)


@hooks.register("register_admin_viewset")
def register_member_libraries():
    return MemberLibrariesGroup()
