"""``/api/v1/docs``: a readable page of the OpenAPI schema, with no external assets.

The page and its script come from this package (``assets/``): an on-premises server in an
air-gapped lab cannot load Swagger UI or Redoc from a CDN.
"""

from pathlib import Path

from django.http import HttpResponse
from django.views.decorators.http import require_GET

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@require_GET
def docs_page(request):
    return HttpResponse((ASSETS / "docs.html").read_bytes(), content_type="text/html; charset=utf-8")


@require_GET
def docs_script(request):
    response = HttpResponse((ASSETS / "docs.js").read_bytes(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "max-age=3600"
    return response
