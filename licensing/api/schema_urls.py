"""The URL map the OpenAPI schema is generated from: the API once, under ``/api/v1/``.

(The same views are also served under ``/backend/api/v1/``; describing them twice would only
duplicate every operation.)
"""

from django.urls import include, path

urlpatterns = [path("api/v1/", include("licensing.api.urls"))]
