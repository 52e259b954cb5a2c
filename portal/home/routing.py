"""Wagtail's routing in one query for a page served before.

Wagtail finds a page by walking the tree from the site's home page: at each level one query
for the child by its slug and one for its specific row. A lesson, three levels down, costs
four. For an address it has served, the portal keeps a hint in the shared cache: the
page's content type and id. The hint is only a hint. The page is read with its address
(``url_path``) and ``live`` in the same query, so a page since moved, renamed, unpublished
or deleted is simply not found, and Wagtail walks the tree as before; nothing needs to
drop a hint, and a stale one costs one query.

The hint is read before Wagtail's own ``serve`` view (``route_by_hint``): the site's home
page then comes from the site's own query, and its specific row, which only the walk
needs, is not read either.

A hint is kept only for a page that the walk reached through pages using Wagtail's own
``route`` (or an override that declares it only finds a child the same way:
``routes_like_wagtail = True``), with nothing left of the address for the page itself to
route: a page that serves sub-addresses or decides something in its ``route`` is always
walked to.
"""

from __future__ import annotations

import functools
import hashlib

from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from wagtail.models import Page, Site, get_page_models

from portal import per_request
from portal.home import kept
from portal.members.standing import shared_by_every_process

# A safety net for addresses no one asks for any more: the hint itself cannot go wrong.
HINT_SECONDS = 24 * 60 * 60


def _key(url_path: str) -> str:
    digest = hashlib.sha256(url_path.encode()).hexdigest()[:32]
    return f"concord:route:{_routing_shape()}:{digest}"


@functools.cache
def _routing_shape() -> str:
    """Which page classes route their own way, as a short string: a release that adds or
    drops such an override reads none of the hints kept before it."""
    own_way = sorted(m._meta.label for m in get_page_models() if not _routes_like_wagtail(m))
    return hashlib.sha256(repr(own_way).encode()).hexdigest()[:8]


def _url_path(home: Page, path_components: list[str]) -> str:
    return home.url_path + "".join(f"{component}/" for component in path_components)


def _keeps() -> bool:
    return per_request.active() and shared_by_every_process()


def hinted_page(request, home: Page, path_components: list[str]) -> Page | None:
    """The live page at this address below ``home``, in one query, if it was served
    before and is still there; else None (the caller walks the tree). The hint is read
    with the parts that the page keeps (``portal.home.kept.read_with``)."""
    if not _keeps():
        return None
    url_path = _url_path(home, path_components)
    key = _key(url_path)
    hint = kept.read_with(request, [key]).get(key)
    if not hint:
        return None
    content_type_id, page_id = hint
    model = ContentType.objects.get_for_id(content_type_id).model_class()
    if model is None or not issubclass(model, Page):
        return None
    try:
        # get(), not first(): one row by its key needs no ORDER BY (nor its compiling).
        return model.objects.get(pk=page_id, url_path=url_path, live=True)
    except model.DoesNotExist:
        return None


def route_by_hint(request, path: str) -> None:
    """Before Wagtail's ``serve`` (``portal.home.views.serve``): the route to a page served
    before, left where Wagtail's own ``Page.route_for_request`` keeps a request's route, so
    everything after it (view restrictions, hooks, the page's ``serve``) runs as Wagtail
    runs it. Nothing is left when no hint holds: Wagtail then walks the tree."""
    components = [component for component in path.split("/") if component]
    if not components or hasattr(request, "_wagtail_route_for_request"):
        return
    site = Site.find_for_request(request)
    if site is None:
        return
    page = hinted_page(request, site.root_page.localized, components)
    if page is not None:
        request._wagtail_route_for_request = page.route(request, [])


def remember(home: Page, path_components: list[str], result) -> None:
    """Keep a hint for the page Wagtail's walk found, when it is one that may be found
    directly (see the module's docstring)."""
    if not _keeps():
        return
    page, args, kwargs = result
    url_path = _url_path(home, path_components)
    if args or kwargs or page.url_path != url_path or not page.live:
        return
    ancestor = getattr(page, "_cached_parent_obj", None)
    while ancestor is not None and ancestor.pk != home.pk:
        if not _routes_like_wagtail(type(ancestor)):
            return
        ancestor = getattr(ancestor, "_cached_parent_obj", None)
    if ancestor is None:
        return  # the walk's chain of parents is not known: no hint
    cache.set(_key(url_path), (page.content_type_id, page.pk), HINT_SECONDS)


def _routes_like_wagtail(page_class) -> bool:
    return page_class.route is Page.route or getattr(page_class, "routes_like_wagtail", False)
