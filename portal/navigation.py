"""The site navigation: the core's links, then each plugin's ``PluginMeta.navigation``.

A link shows only to people who hold its permission for some member library, so nobody is
led to a page that would refuse them. One query for the person's permissions, whatever the
number of plugins and links.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.contrib.auth.models import Permission
from django.db.models import Q
from django.urls import NoReverseMatch, get_resolver, get_script_prefix, get_urlconf, reverse
from django.utils.translation import gettext_lazy as _

from portal import access
from portal.members import standing
from portal.plugins import available_plugins


@dataclass(frozen=True)
class NavEntry:
    label: str
    url: str


def navigation(request) -> list[NavEntry]:
    user = request.user
    if not user.is_authenticated:
        return []
    held = access.permissions_anywhere(user)
    # The URLs served (a test may swap them), and the prefix they are served under.
    served = (get_resolver(get_urlconf()), get_script_prefix())
    entries = [NavEntry(_("Dashboard"), _path("dashboard", served))]
    for plugin in available_plugins():
        for link in plugin.meta.navigation:
            if link.permissions and not held.intersection(link.permissions):
                continue
            url = _path(link.url_name, served)
            if url is not None:  # None: the plugin's URLs are not mounted (a deployment's choice)
                entries.append(NavEntry(link.label, url))
    if may_open_admin(user):
        entries.append(NavEntry(_("Admin"), _path("wagtailadmin_home", served)))
    return entries


@functools.cache
def _path(url_name: str, served: tuple) -> str | None:
    """Where a link points, worked out once per process for the URLs served and their
    prefix (a page reverses its links on every visit otherwise: a third of the
    navigation's time)."""
    try:
        return reverse(url_name, urlconf=served[0].urlconf_name)
    except NoReverseMatch:
        return None


def may_open_admin(user) -> bool:
    """Whether Wagtail would let ``user`` in: ``has_perm("wagtailadmin.access_admin")`` in
    one query where Django's backend reads all of the person's and their groups' permissions
    in two. The permission reaches people only through groups or directly (never a role)."""
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    return standing.kept(
        user,
        "opens_admin",
        lambda: Permission.objects.filter(
            Q(user=user) | Q(group__user=user),
            content_type__app_label="wagtailadmin",
            codename="access_admin",
        ).exists(),
    )


def site_navigation(request):
    """Context processor: ``site_nav`` for the base layout, computed only when used."""
    return {"site_nav": lambda: navigation(request)}
