"""The portal's URLs without the training plugin's (as a deployment might mount them)."""

from portal.urls import urlpatterns as portal_urlpatterns

urlpatterns = [
    pattern
    for pattern in portal_urlpatterns
    if getattr(pattern, "app_name", None) != "training"
    and getattr(pattern, "namespace", None) != "training"
]
