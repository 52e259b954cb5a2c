from django.conf import settings
from django.utils.functional import SimpleLazyObject

from portal.navigation import site_navigation  # noqa: F401 - listed in settings


def consortium_name() -> str:
    """The consortium's own name (the root member library's), which belongs on everything
    it shows and sends; ``CONSORTIUM_NAME`` in the environment overrides it.

    One small query where a page shows it, always: a cache would make a page's query count
    depend on what ran before it (the constant-query tests compare counts)."""
    configured = getattr(settings, "CONSORTIUM_NAME", "")
    if configured:
        return configured
    from portal.members.models import MemberLibrary

    name = (
        MemberLibrary.objects.filter(depth=1).order_by("path").values_list("name", flat=True)
    ).first()
    return name or settings.WAGTAIL_SITE_NAME


def consortium(request):
    return {"consortium_name": SimpleLazyObject(consortium_name)}
