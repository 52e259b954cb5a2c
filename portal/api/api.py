"""The integration API (django-ninja): /api/v1/..., schema at /api/openapi.json."""

from django.conf import settings
from django.utils.module_loading import import_string
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.security import HttpBearer
from ninja.throttling import AuthRateThrottle

from portal.members.switches import plugin_enabled
from portal.plugins import available_plugins

from . import services
from .models import ApiToken


class TokenAuth(HttpBearer):
    """``Authorization: Bearer cnc_<prefix>_<secret>``; request.auth is the ApiToken."""

    def authenticate(self, request, token):
        return services.authenticate(token)


def require_scope(request, scope: str, plugin: str | None = None) -> ApiToken:
    """The request's token, once it carries ``scope`` (and, for a plugin's endpoint, once
    that plugin is switched on for the token's library)."""
    token = request.auth
    if scope not in token.scopes:
        raise HttpError(403, f"This token lacks the scope {scope}.")
    if plugin is not None and not plugin_enabled(plugin, token.library):
        raise HttpError(404, f"The {plugin} module is switched off for this library.")
    return token


api = NinjaAPI(
    title="Concord integration API",
    version="1",
    description="For member libraries' systems: each token belongs to one library.",
    auth=TokenAuth(),
    throttle=[AuthRateThrottle(getattr(settings, "CONCORD_API_RATE", "600/m"))],
    # The interactive docs load scripts from a CDN, which the CSP forbids; the schema is
    # enough for clients and generators.
    docs_url=None,
    openapi_url="/openapi.json",
    urls_namespace="api",
)


class LibraryOut(Schema):
    code: str
    name: str
    kind: str
    library_type: str
    website: str


@api.get("/v1/library", response=LibraryOut, summary="The token's own library")
def own_library(request):
    library = require_scope(request, ApiToken.Scope.LIBRARY_READ).library
    return LibraryOut(
        code=library.code,
        name=library.name,
        kind=library.kind,
        library_type=library.library_type or "",
        website=library.website or "",
    )


def mount_plugin_routers() -> None:
    """Each available plugin may name a ninja Router as ``PluginMeta.api_router``; it is
    served under /api/v1/<plugin label with - for _>/, so the core names no plugin."""
    for plugin in available_plugins():
        dotted = plugin.meta.api_router
        if dotted:
            api.add_router(f"/v1/{plugin.label.replace('_', '-')}/", import_string(dotted))


mount_plugin_routers()
