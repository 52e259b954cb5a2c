from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from portal import access

from . import metrics


class TaskMetricsView(WagtailAdminTemplateMixin, TemplateView):
    """Queued, running and failed Celery tasks; for the consortium office only."""

    template_name = "portal/admin/task_metrics.html"
    page_title = _("Background tasks")
    header_icon = "cogs"

    def dispatch(self, request, *args, **kwargs):
        if not access.is_consortium_admin(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "metrics": metrics.collect()}
