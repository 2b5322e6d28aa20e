from django.urls import path

from . import views

urlpatterns = [
    path("", views.ha_status, name="admin_ha"),
    path("events/", views.ha_status, {"tab": "events"}, name="admin_ha_events"),
]
