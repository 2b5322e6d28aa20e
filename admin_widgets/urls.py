from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.workspace, name="admin_home"),
    path("users/", include("admin_widgets.users.urls")),
]
