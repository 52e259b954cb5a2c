"""The "Single sign-on" admin: a library's identity provider, connected by the office, or by
the library's director for their own library (decided by ``portal.access``)."""

from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.views.generic import CreateView, DeleteView, EditView, IndexView
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permissions import register_permission_policy

from portal import access
from portal.admin_policies import RolePermissionPolicy

from .forms import IdentityProviderForm
from .models import IdentityProvider
from .services import MANAGE, do_remove_provider, do_save_provider, may_manage


def _manages_some_library(user) -> bool:
    return access.is_consortium_admin(user) or access.can_anywhere(user, MANAGE)


class ProviderPolicy(RolePermissionPolicy):
    def instances_user_has_any_permission_for(self, user, actions):
        if not self.user_has_any_permission(user, actions):
            return self.model.objects.none()
        if access.is_consortium_admin(user):
            return self.model.objects.all()
        return self.model.objects.filter(library__in=access.libraries_for(user, MANAGE))


register_permission_policy(
    IdentityProvider,
    ProviderPolicy(
        IdentityProvider,
        {"add", "change", "delete", "view"},
        _manages_some_library,
        instance_allowed=lambda action, provider: True,
    ),
)


class ProviderMayBeManaged:
    """Editing or removing one provider: only for someone who manages its library."""

    def get_object(self, queryset=None):
        provider = super().get_object(queryset)
        if not may_manage(self.request.user, provider.library):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        return provider


class ProviderIndexView(IndexView):
    def get_base_queryset(self):
        return ProviderPolicy.instances_user_has_any_permission_for(
            self.permission_policy, self.request.user, {"view"}
        ).select_related("library")


class ProviderCreateView(CreateView):
    def save_instance(self):
        return do_save_provider(self.request.user, self.form.save(commit=False))


class ProviderEditView(ProviderMayBeManaged, EditView):
    def save_instance(self):
        return do_save_provider(self.request.user, self.form.save(commit=False))


class ProviderDeleteView(ProviderMayBeManaged, DeleteView):
    def delete_action(self):
        do_remove_provider(self.request.user, self.object)


class IdentityProviderViewSet(ModelViewSet):
    model = IdentityProvider
    name = "identity_providers"
    icon = "key"
    menu_label = _("Single sign-on")
    add_to_admin_menu = True
    index_view_class = ProviderIndexView
    add_view_class = ProviderCreateView
    edit_view_class = ProviderEditView
    delete_view_class = ProviderDeleteView
    copy_view_enabled = False
    inspect_view_enabled = False
    list_display = ["name", "library", "protocol", "email_domains", "counts_as_second_factor"]

    def get_form_class(self, for_update=False):
        return IdentityProviderForm


@hooks.register("register_admin_viewset")
def register_identity_providers():
    return IdentityProviderViewSet()
