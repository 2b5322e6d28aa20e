"""Device endpoint URLs (included at the root by onprem/urls.py: devices use these exact paths)."""

from django.urls import path

from . import views

urlpatterns = [
    path("SmartTransport", views.smart_transport, name="device_smart_transport"),
    path("Transportgateway/services/DeviceRequestHandler", views.call_home, name="device_call_home"),
    path("cslu/v1/pi/<path:slug>", views.cslu_push, name="device_cslu_push"),
]
