"""Patron imports in the Wagtail admin: the job list and a live progress bar per job.

A library's communications people and director see its imports in full (with the
download of the rows that were not taken); the office sees the counts. Both decided by
``selectors.import_access``, which asks ``portal.access``, on every request.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.base import ViewSet

from portal import access
from portal.admin_door import AdminDoor

from . import selectors
from .models import ImportJob
from .selectors import COUNTS, IMPORT, VIEW

ADMIN_GROUP = "Patron directory keepers"


def may_watch_imports(user) -> bool:
    return any(access.can_anywhere(user, perm) for perm in (IMPORT, VIEW, COUNTS))


def _job_for(request, pk) -> tuple[ImportJob, str]:
    job = get_object_or_404(ImportJob.objects.select_related("library"), pk=pk)
    level = selectors.import_access(request.user, job.library)
    if level is None:
        raise PermissionDenied
    return job, level


def import_index(request):
    if not may_watch_imports(request.user):
        raise PermissionDenied
    jobs, full = selectors.imports_for(request.user)
    page = Paginator(jobs, 50).get_page(request.GET.get("p"))
    rows = [
        {"job": job, "full": job.library_id in full, **selectors.import_progress(job)}
        for job in page
    ]
    return render(
        request,
        "patron_notices/admin/imports.html",
        {"page_obj": page, "rows": rows, "any_running": any(r["running"] for r in rows)},
    )


def import_detail(request, pk):
    job, level = _job_for(request, pk)
    return render(
        request,
        "patron_notices/admin/import_detail.html",
        {"job": job, "full": level == "full", "progress": selectors.import_progress(job)},
    )


def import_status(request, pk):
    job, _level = _job_for(request, pk)
    return JsonResponse(selectors.import_progress(job))


class ImportsMenuItem(MenuItem):
    def is_shown(self, request):
        return may_watch_imports(request.user)


class PatronImportViewSet(ViewSet):
    name = "patron_imports"
    icon = "upload"
    menu_label = _("Patron imports")
    menu_order = 265
    add_to_admin_menu = True

    @property
    def menu_item_class(self):
        return ImportsMenuItem

    @property
    def menu_url(self):
        from django.urls import reverse

        return reverse(self.get_url_name("index"))

    def get_urlpatterns(self):
        return [
            path("", import_index, name="index"),
            path("<int:pk>/", import_detail, name="detail"),
            path("<int:pk>/status.json", import_status, name="status"),
        ]


@hooks.register("register_admin_viewset")
def register_patron_imports():
    return PatronImportViewSet()


# Whoever sees or imports some library's patrons (its director, say) keeps the directory in
# the admin; the door opens and closes with the role.
KEEPERS = AdminDoor(ADMIN_GROUP, (IMPORT, VIEW))
sync_admin_group = KEEPERS.sync
sync_all_admin_keepers = KEEPERS.rebuild
