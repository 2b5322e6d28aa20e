from django.urls import path

from . import views

urlpatterns = [
    path("", views.settings_tab, name="admin_settings"),
    path("<slug:tab>/", views.settings_tab, name="admin_settings_tab"),
]
