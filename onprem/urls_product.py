"""URL map of a product listener (core/listeners.py): the device endpoints and nothing else.

The management listener (onprem/urls.py) serves these same paths too.
"""

from django.urls import include, path

urlpatterns = [
    path("", include("licensing.transport.urls")),
]

# A device endpoint's own 404 (an unknown CSLU slug) is as bare as the listener's for any other path.
handler404 = "core.listeners.product_not_found"
handler500 = "core.error_views.server_error"
