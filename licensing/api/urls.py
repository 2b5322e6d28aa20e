"""The API v1 URL map, included at ``api/v1/`` and at ``backend/api/v1/`` (clients use both).

Names in paths are URL-decoded by Django before they reach the views (``Test%20VA`` is
``Test VA``) and matched exactly there.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from core import limits

from . import schema_extensions  # noqa: F401  (registers the OAuth2 scheme with drf-spectacular)
from .views import alerts, devices, docs, licenses, local_accounts, tokens, virtual_accounts

API_LIMIT = limits.RequestLimit(limits.setting("ONPREM_MAX_API_REQUEST_BYTES", limits.MIB), "API request", reply="api")
ACCOUNT = "accounts/<str:account>"
VA = f"{ACCOUNT}/virtual-accounts/<str:va>"

urlpatterns = [
    path(f"{ACCOUNT}/virtual-accounts", virtual_accounts.VirtualAccountsView.as_view()),
    path(f"{VA}/delete", virtual_accounts.VirtualAccountDeleteView.as_view()),
    path(VA, virtual_accounts.VirtualAccountView.as_view()),
    path(f"{VA}/tokens", tokens.TokensView.as_view()),
    path(f"{VA}/tokens/revoke", tokens.TokensRevokeView.as_view()),
    path(f"{ACCOUNT}/licenses", licenses.LicenseUsageView.as_view()),
    path(f"{ACCOUNT}/license-subscriptions", licenses.LicenseSubscriptionsView.as_view()),
    path(f"{VA}/licenses/transfer", licenses.LicenseTransferView.as_view()),
    path(f"{ACCOUNT}/devices", devices.DeviceUsageView.as_view()),
    path(f"{VA}/devices", devices.DeviceSearchView.as_view()),
    path(f"{VA}/devices/transfer", devices.DeviceTransferView.as_view()),
    path(f"{VA}/devices/remove", devices.DeviceRemoveView.as_view()),
    path(f"{ACCOUNT}/alerts", alerts.AlertsView.as_view()),
    path("accounts", local_accounts.LocalAccountsView.as_view()),
    path("upstream_satellites/accounts", local_accounts.UpstreamAccountsView.as_view()),
    # The OpenAPI 3 description and a page that renders it (no CDN: our own script).
    path(
        "schema",
        SpectacularAPIView.as_view(
            urlconf="licensing.api.schema_urls", authentication_classes=[], permission_classes=[]
        ),
        name="api_v1_schema",
    ),
    path("docs", docs.docs_page, name="api_v1_docs"),
    path("docs/docs.js", docs.docs_script, name="api_v1_docs_script"),
]
limits.limit_patterns(urlpatterns, API_LIMIT)
