"""Request size policy: a body over the limit of its view is refused with 413 before it is read.

Django's own ``DATA_UPLOAD_MAX_MEMORY_SIZE`` only guards ``request.body`` and the non-file part
of a form, and answers a bare 400 when it trips; a file part is streamed to disk whatever its
size. This middleware looks at the declared ``Content-Length`` first, so an oversized upload is
refused before Django parses (or spools) anything, with a message that says what the limit is.

A request without ``Content-Length`` (chunked) is read by Django's WSGI handler as an empty body,
so it cannot smuggle a large body past this check. The forms and services keep their own,
smaller per-file checks (e.g. ``accounts.services.groups.MAX_UPLOAD_BYTES``); a view declares its
own limit with ``@request_limit`` (leaving room for the multipart envelope, so those checks still
give the friendlier form error for files just over their limit); every other view gets
``ONPREM_MAX_REQUEST_BYTES``. The device endpoints are marked ``@own_request_limit``: they enforce
``ONPREM_DEVICE_MAX_MESSAGE_BYTES`` themselves and answer 413 in the device protocol's format.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpResponse
from django.urls import Resolver404, resolve

KIB = 1024
MIB = 1024 * KIB
# Room for the multipart boundaries, headers and the other (small) fields of an upload form.
ENVELOPE = 64 * KIB


@dataclass(frozen=True)
class RequestLimit:
    """The most a view accepts: ``limit()`` bytes (read per request: settings may change), named
    ``label`` in the refusal, which is plain text, or JSON in the ``api`` or ``oauth`` format."""

    limit: Callable[[], int]
    label: str
    reply: str = "text"


# A view that enforces its own limit and answers in its own format (the device endpoints).
OWN_LIMIT = RequestLimit(lambda: 0, "own")
DEFAULT = RequestLimit(lambda: getattr(settings, "ONPREM_MAX_REQUEST_BYTES", MIB), "request")


def setting(name, default):
    """A limit read from a setting at each request."""
    return lambda: getattr(settings, name, default)


def request_limit(limit, label, *, reply="text"):
    """Decorate a view function or class with its size limit (bytes, or a callable giving them).

    Put it outermost: the middleware reads the attribute from the function the URL resolves to.
    """
    rule = RequestLimit(limit if callable(limit) else (lambda: limit), label, reply)

    def mark(view):
        view.request_limit = rule
        return view

    return mark


def own_request_limit(view):
    """Mark a view that checks its body size itself: the middleware leaves its requests alone."""
    view.request_limit = OWN_LIMIT
    return view


def limit_patterns(patterns, rule):
    """Give every view of a URL list (e.g. a whole API) the same limit; returns the list."""
    for pattern in patterns:
        pattern.callback.request_limit = rule
    return patterns


def limit_for(view):
    """The ``RequestLimit`` of a resolved view; ``None`` for a view that keeps its own."""
    cls = getattr(view, "view_class", None)
    rule = getattr(view, "request_limit", None) or getattr(cls, "request_limit", None) or DEFAULT
    return None if rule is OWN_LIMIT else rule


def _size(count):
    if count >= MIB:
        return f"{count / MIB:.1f} MB"
    return f"{max(1, round(count / KIB))} KB"


def _refusal(reply, status, message):
    if reply == "oauth":
        body = {"error": "invalid_request", "error_description": message}
    elif reply == "api":
        body = {"status": "ERROR", "statusMessage": message}
    else:
        return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


class RequestSizeLimitMiddleware:
    """413 for a declared body over the view's limit; 400 for a Content-Length that is not a number.

    Checked first of all, before the session, the CSRF check or a database query: the path is
    resolved here to find its view's limit (a path that resolves to no view gets the default).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH")
        if declared not in (None, ""):
            refusal = self.refusal(request.path_info, declared)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def refusal(self, path, declared):
        try:
            rule = limit_for(resolve(path).func)
        except Resolver404:
            rule = DEFAULT
        if rule is None:
            return None
        limit = rule.limit()
        try:
            length = int(declared)
            if length < 0:
                raise ValueError
        except ValueError:
            return _refusal(rule.reply, 400, "The Content-Length header is not a valid length.")
        if length > limit:
            # (No "Connection: close" here: WSGI forbids hop-by-hop headers; the server closes.)
            return _refusal(
                rule.reply,
                413,
                f"The {rule.label} is too large: {length} bytes were sent, at most {limit} bytes ({_size(limit)}) "
                "are accepted here.",
            )
        return None
