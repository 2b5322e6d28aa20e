"""Security headers Django 5.2 does not set by itself: Content-Security-Policy, Permissions-Policy
and ``Cache-Control: no-store``.

HSTS, ``X-Content-Type-Options`` and ``Referrer-Policy`` come from ``SecurityMiddleware``,
``X-Frame-Options`` from ``XFrameOptionsMiddleware``; responses made before those run (e.g. the
413 of ``core.limits``) get the same values here, so every response carries the full set. The
policy, why ``form-action`` is absent, and why nothing is for a cache to keep:
docs/reliability.md, "Security headers".
"""

from django.conf import settings

DEFAULT_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
DEFAULT_PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), magnetometer=(), gyroscope=(), accelerometer=()"
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Cache-Control" not in response.headers and not request.path.startswith(settings.STATIC_URL):
            response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Content-Security-Policy", getattr(settings, "ONPREM_CSP", DEFAULT_CSP))
        response.headers.setdefault(
            "Permissions-Policy", getattr(settings, "ONPREM_PERMISSIONS_POLICY", DEFAULT_PERMISSIONS_POLICY)
        )
        response.headers.setdefault("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY"))
        if getattr(settings, "SECURE_CONTENT_TYPE_NOSNIFF", True):
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
        referrer = getattr(settings, "SECURE_REFERRER_POLICY", None)
        if referrer:
            response.headers.setdefault("Referrer-Policy", referrer)
        return response
