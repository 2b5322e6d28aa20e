from django.urls import path

from . import views

urlpatterns = [
    path("", views.network_tab, name="admin_network"),
    path("<slug:tab>/", views.network_tab, name="admin_network_tab"),
]
