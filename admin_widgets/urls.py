from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.workspace, name="admin_home"),
    path("users/", include("admin_widgets.users.urls")),
    path("accounts/", include("admin_widgets.accounts.urls")),
    path("sync/", include("admin_widgets.synchronization.urls")),
    path("access/", include("admin_widgets.access_management.urls")),
    path("settings/", include("admin_widgets.settings.urls")),
    path("security/", include("admin_widgets.security.urls")),
    path("network/", include("admin_widgets.network.urls")),
    path("support/", include("admin_widgets.support_center.urls")),
    path("ha/", include("admin_widgets.ha.urls")),
    path("api/", include("admin_widgets.api_toolkit.urls")),
]
