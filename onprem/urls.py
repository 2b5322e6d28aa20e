"""URL map: the Licensing workspace at /, the Administration workspace at /admin/.

Django's own admin site is not installed: /admin is the product's Administration workspace.
"""

from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.oauth_views import ApiTokenView
from core import health_views, metrics

urlpatterns = [
    # Liveness and readiness probes (docs/operations.md): no login, no session.
    path("healthz", health_views.healthz, name="healthz"),
    path("readyz", health_views.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # Browsers ask for /favicon.ico whatever the page says: answer it rather than log a 404 each time.
    path("favicon.ico", RedirectView.as_view(url=static("onprem/favicon.svg"), permanent=True), name="favicon"),
    # The embedded OAuth2 server's token endpoint (guide "API Call for Access Tokens"); the
    # /backend prefix is the path some SSM On-Prem clients use for it.
    path("oauth/token", ApiTokenView.as_view(), name="oauth_token"),
    path("backend/oauth/token", ApiTokenView.as_view(), name="oauth_token_backend"),
    # The REST API v1 (licensing/api), at both prefixes real clients use.
    path("api/v1/", include("licensing.api.urls")),
    path("backend/api/v1/", include("licensing.api.urls")),
    # The device protocol (licensing/transport): /SmartTransport, the Call Home handler, the CSLU push.
    path("", include("licensing.transport.urls")),
    path("", include("accounts.urls")),
    path("admin/", include("admin_widgets.urls")),
    path("", include("licensing.urls")),
]

# The error pages (core/error_views.py): templates/400.html, 403.html, 404.html, 403_csrf.html and
# the 500 page for the workspaces; the REST API's JSON error body under /api/ and /backend/api/.
handler400 = "core.error_views.bad_request"
handler403 = "core.error_views.permission_denied"
handler404 = "core.error_views.page_not_found"
handler500 = "core.error_views.server_error"
