"""Wagtail admin: the office's way in, and access checks on every announcement edit.

Wagtail's own page permissions let the office group into the index; who may address whom
is decided by ``portal.access`` here, on the server, before create, edit and publish. An
announcement reached through the page tree is handed to the portal's view.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpResponseForbidden
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail import hooks
from wagtail.admin import messages
from wagtail.admin.menu import MenuItem

from portal import access
from portal.admin_actions import publish_first

from . import selectors, services, views
from .models import AnnouncementIndexPage, AnnouncementPage


def _may_publish_somewhere(user) -> bool:
    return selectors.may_publish_to_everyone(user) or access.can_anywhere(user, selectors.PUBLISH)


@hooks.register("before_create_page")
def before_create_announcement(request, parent_page, page_class):
    if issubclass(page_class, AnnouncementPage) and not _may_publish_somewhere(request.user):
        return HttpResponseForbidden(_("You may not publish announcements."))
    return None


@hooks.register("before_edit_page")
def before_edit_announcement(request, page):
    page = page.specific
    if not isinstance(page, AnnouncementPage):
        return None
    try:
        # Editing someone else's audience is as much as publishing to it.
        services.check_page_audience(request.user, page)
    except PermissionDenied:
        return HttpResponseForbidden(_("You may not edit this announcement."))
    return None


@hooks.register("before_publish_page")
def before_publish_announcement(request, page):
    page = page.specific if not isinstance(page, AnnouncementPage) else page
    if not isinstance(page, AnnouncementPage):
        return None
    try:
        services.check_page_audience(request.user, page)
    except PermissionDenied as exc:
        return HttpResponseForbidden(str(exc))
    return None


def open_announcements(request):
    if not selectors.may_publish_to_everyone(request.user):
        raise PermissionDenied
    index = services.announcement_index()
    return redirect("wagtailadmin_explore", index.pk)


class AnnouncementsMenuItem(MenuItem):
    def is_shown(self, request):
        return selectors.may_publish_to_everyone(request.user)


@hooks.register("register_admin_urls")
def admin_urls():
    return [path("announcements/open/", open_announcements, name="announcements_open")]


@hooks.register("register_admin_menu_item")
def menu_item():
    return AnnouncementsMenuItem(
        _("Announcements"), reverse("announcements_open"), icon_name="info-circle", order=250
    )


@hooks.register("after_publish_page")
def say_how_many_it_reaches(request, page):
    """The office learns at once whom an announcement went to."""
    page = page.specific
    if isinstance(page, AnnouncementPage):
        count = selectors.recipients(page).count()
        messages.info(
            request,
            ngettext(
                "'%(title)s' reaches %(n)s person.", "'%(title)s' reaches %(n)s people.", count
            )
            % {"title": page.title, "n": f"{count:,}"},
        )


@hooks.register("construct_page_action_menu")
def publish_announcements_first(menu_items, request, context):
    parent = context.get("parent_page")
    creating = parent is not None and isinstance(parent.specific, AnnouncementIndexPage)
    if creating or isinstance(context.get("page"), AnnouncementPage):
        publish_first(menu_items)


# After Wagtail's own view restrictions (order 0), which stay outside this wrapper.
@hooks.register("on_serve_page", order=10)
def serve_announcements(serve_page):
    """The editor's preview renders the page's own context and does not come here."""

    def serve(page, request, args, kwargs):
        if isinstance(page, AnnouncementPage):
            return views.serve_announcement(request, page)
        if isinstance(page, AnnouncementIndexPage):
            # The list a person sees depends on who they are: the portal view decides.
            return redirect("announcements:list")
        return serve_page(page, request, args, kwargs)

    return serve
