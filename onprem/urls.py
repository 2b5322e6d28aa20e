"""URL map: the Licensing workspace at /, the Administration workspace at /admin/.

Django's own admin site is not installed: /admin is the product's Administration workspace.
"""
from django.urls import include, path

urlpatterns = [
    path("", include("accounts.urls")),
    path("admin/", include("admin_widgets.urls")),
    path("", include("licensing.urls")),
]
