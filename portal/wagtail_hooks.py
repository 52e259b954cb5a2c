"""The core's own Wagtail admin additions (plugins register theirs in their own hooks)."""

from django.templatetags.static import static
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from portal import access
from portal.observability.views import TaskMetricsView


@hooks.register("register_admin_urls")
def task_metrics_urls():
    return [path("tasks/", TaskMetricsView.as_view(), name="concord_task_metrics")]


class OfficeOnlyMenuItem(MenuItem):
    def is_shown(self, request):
        return access.is_consortium_admin(request.user)


@hooks.register("register_settings_menu_item")
def task_metrics_menu_item():
    return OfficeOnlyMenuItem(
        _("Background tasks"), reverse("concord_task_metrics"), icon_name="cogs", order=900
    )


@hooks.register("insert_global_admin_js")
def accessible_names_for_editors():
    # Names the rich text editors and tag inputs that Wagtail leaves unnamed (see the file).
    return format_html('<script src="{}" defer></script>', static("portal/admin-a11y.js"))


@hooks.register("insert_global_admin_css")
def readable_admin_messages():
    # Wagtail's success message fails text contrast (see the file).
    return format_html('<link rel="stylesheet" href="{}">', static("portal/admin-a11y.css"))
