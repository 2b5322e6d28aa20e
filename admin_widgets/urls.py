from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.workspace, name="admin_home"),
    path("users/", include("admin_widgets.users.urls")),
    path("accounts/", include("admin_widgets.accounts.urls")),
]
