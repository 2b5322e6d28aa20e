"""The 500 page: branded, translated, with the request id, and never failing itself.

Django renders 404.html, 403.html and 403_csrf.html itself, with the request (so with the
context processors: the top bar knows the user). For a 500 it renders 500.html with no context
at all; this handler adds what the page needs that cannot fail: the product name and the
request id (core/observability.py), which is also on every log line of the request, so an
operator can find them. No context processor runs (they read the database and the cache, which
may be what failed). If even that rendering fails, a plain page with the id is sent.
"""

import logging

from django.http import HttpResponseServerError
from django.template import loader
from django.utils.html import escape

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


def server_error(request, template_name="500.html"):
    request_id = request_id_of(request)
    try:
        body = loader.get_template(template_name).render({"request_id": request_id, "PRODUCT_NAME": PRODUCT_NAME})
    except Exception:  # the error page must not fail: whatever went wrong, answer with the plain one
        log.exception("the 500 page could not be rendered")
        body = _PLAIN.format(product=PRODUCT_NAME, request_id=escape(request_id or "-"))
    return HttpResponseServerError(body)
