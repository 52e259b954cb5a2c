"""A way into the patron directory from the Wagtail admin, for those who may see it."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from portal import access

from .selectors import COUNTS, IMPORT, VIEW


class PatronDirectoryMenuItem(MenuItem):
    def is_shown(self, request):
        user = request.user
        return any(access.can_anywhere(user, perm) for perm in (COUNTS, VIEW, IMPORT))


@hooks.register("register_admin_menu_item")
def patron_directory_menu_item():
    return PatronDirectoryMenuItem(
        _("Patron directory"), reverse("patron_notices:overview"), icon_name="group", order=260
    )
