from django.urls import path

from . import views

urlpatterns = [
    path("", views.toolkit, name="admin_api_toolkit"),
    path("console/", views.console_toggle, name="admin_api_console"),
    path("create/", views.grant_create, name="admin_api_grant_create"),
    path("<int:pk>/edit/", views.grant_edit, name="admin_api_grant_edit"),
    path("<int:pk>/secret/", views.grant_regenerate, name="admin_api_grant_secret"),
    path("<int:pk>/delete/", views.grant_delete, name="admin_api_grant_delete"),
    path("<int:pk>/access/", views.grant_access, name="admin_api_grant_access"),
    path("access/<int:pk>/remove/", views.access_remove, name="admin_api_access_remove"),
]
