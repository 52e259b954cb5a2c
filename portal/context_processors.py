from django.conf import settings
from django.core.cache import cache
from django.utils.functional import SimpleLazyObject

from portal.navigation import site_navigation  # noqa: F401 - listed in settings

NAME_CACHE_KEY = "concord.consortium_name"


def consortium_name() -> str:
    """The consortium's own name (the root member library's), which belongs on everything
    it shows and sends; ``CONSORTIUM_NAME`` in the environment overrides it."""
    configured = getattr(settings, "CONSORTIUM_NAME", "")
    if configured:
        return configured

    def from_database() -> str:
        from portal.members.models import MemberLibrary

        root = MemberLibrary.get_first_root_node()
        return root.name if root else settings.WAGTAIL_SITE_NAME

    return cache.get_or_set(NAME_CACHE_KEY, from_database, 300)


def consortium(request):
    return {"consortium_name": SimpleLazyObject(consortium_name)}
