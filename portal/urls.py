from django.conf import settings
from django.urls import include, path, re_path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from portal import health
from portal.home import views as home_views
from portal.plugins import available_plugins


def plugin_urls():
    """Each plugin's urls.py, mounted under its label."""
    patterns = []
    for plugin in available_plugins():
        try:
            module = __import__(f"{plugin.name}.urls", fromlist=["urlpatterns"])
        except ModuleNotFoundError:
            continue
        patterns.append(path(f"{plugin.label.replace('_', '-')}/", include(module)))
    return patterns


urlpatterns = [
    path("", include(health)),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("accounts/", include("allauth.urls")),
    path("api/", include("portal.api.urls")),
    path("dashboard/", home_views.dashboard, name="dashboard"),
    path("", include("portal.members.urls")),
    *plugin_urls(),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# Wagtail's own URLs, its page view taken through the route hints (portal.home.routing).
# Its other URLs (the password form of a restricted page, the front-end login) come first:
# the page view's pattern matches their addresses too.
urlpatterns += [
    *(pattern for pattern in wagtail_urls.urlpatterns if pattern.name != "wagtail_serve"),
    re_path(wagtail_urls.serve_pattern, home_views.serve, name="wagtail_serve"),
]
