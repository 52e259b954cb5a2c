"""Security headers the settings alone cannot express.

The Content-Security-Policy itself is in settings (``CONTENT_SECURITY_POLICY``, django-csp);
this middleware adds what differs by path and the Permissions-Policy header.
"""

from csp.constants import SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings

# The portal's own pages run no inline script except with the request's nonce. The Wagtail
# admin writes small inline scripts in its form widgets and panels (date pickers, inline
# panels), so its pages allow inline scripts — never other origins.
ADMIN_SCRIPT_SRC = [SELF, UNSAFE_INLINE]

# No page of the portal uses these browser features; deny them to every frame and script.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
        "interest-cohort",
        "browsing-topics",
    )
)


class SecurityHeadersMiddleware(CSPMiddleware):
    """django-csp's middleware, with the admin's allowance and a Permissions-Policy."""

    def get_policy_parts(self, request, response, report_only=False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if request.path_info.startswith(tuple(settings.CONCORD_CSP_ADMIN_PREFIXES)):
            parts.replace = {**(parts.replace or {}), "script-src": ADMIN_SCRIPT_SRC}
        return parts

    def process_response(self, request, response):
        response = super().process_response(request, response)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
