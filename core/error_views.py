"""The 500 page: branded, translated, with the request id, and never failing itself.

Django renders 404.html, 403.html and 403_csrf.html itself, with the request (so with the
context processors: the top bar knows the user). For a 500 it renders 500.html with no context
at all; this handler adds what the page needs that cannot fail: the product name and the
request id (core/observability.py), which is also on every log line of the request, so an
operator can find them. No context processor runs (they read the database and the cache, which
may be what failed). If even that rendering fails, a plain page with the id is sent.

Under the REST API's prefixes (``/api/...``, ``/backend/api/...``) every one of these is the
API's JSON body instead, ``{"status": "ERROR", "statusMessage": ...}`` with the same status:
a script parses every reply there, errors included. The workspaces keep their pages.
"""

import logging

from django.http import HttpResponseServerError, JsonResponse
from django.template import loader
from django.utils.html import escape
from django.views import defaults

from .context_processors import PRODUCT_NAME
from .observability import request_id_var

log = logging.getLogger(__name__)

_PLAIN = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Server Error · {product}</title></head>'
    "<body><h1>Server Error (500)</h1><p>The server could not complete the request.</p>"
    '<p>Request ID: <code>{request_id}</code></p><p><a href="/">Go to the home page</a></p></body></html>'
)


def request_id_of(request):
    request_id = getattr(request, "request_id", None) or request_id_var.get()
    return "" if request_id in (None, "-") else request_id


# The REST API's prefixes (onprem/urls.py mounts API v1 under both; any other version there too).
API_PREFIXES = ("/api/", "/backend/api/")


def is_api_path(path):
    return path.startswith(API_PREFIXES) or path in ("/api", "/backend/api")


def api_error(status, message):
    """The REST API's error body (licensing/api/replies.py), for errors that never reach a view."""
    return JsonResponse({"status": "ERROR", "statusMessage": message}, status=status)


def bad_request(request, exception, template_name="400.html"):
    if is_api_path(request.path):
        return api_error(400, "Bad request.")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception, template_name="403.html"):
    if is_api_path(request.path):
        return api_error(403, "Access Restricted")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception, template_name="404.html"):
    if is_api_path(request.path):
        return api_error(404, f"No API endpoint at {request.path}.")
    return defaults.page_not_found(request, exception)


def server_error(request, template_name="500.html"):
    request_id = request_id_of(request)
    if is_api_path(request.path):
        suffix = f" Request ID: {request_id}." if request_id else ""
        return api_error(500, "The server could not complete the request." + suffix)
    try:
        body = loader.get_template(template_name).render({"request_id": request_id, "PRODUCT_NAME": PRODUCT_NAME})
    except Exception:  # the error page must not fail: whatever went wrong, answer with the plain one
        log.exception("the 500 page could not be rendered")
        body = _PLAIN.format(product=PRODUCT_NAME, request_id=escape(request_id or "-"))
    return HttpResponseServerError(body)
