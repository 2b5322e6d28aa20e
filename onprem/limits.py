"""Request size policy: a body over the limit for its path is refused with 413 before it is read.

Django's own ``DATA_UPLOAD_MAX_MEMORY_SIZE`` only guards ``request.body`` and the non-file part
of a form, and answers a bare 400 when it trips; a file part is streamed to disk whatever its
size. This middleware looks at the declared ``Content-Length`` first, so an oversized upload is
refused before Django parses (or spools) anything, with a message that says what the limit is.

A request without ``Content-Length`` (chunked) is read by Django's WSGI handler as an empty body,
so it cannot smuggle a large body past this check. The forms and services keep their own,
smaller per-file checks (e.g. ``accounts.services.groups.MAX_UPLOAD_BYTES``); the path limits here
leave room for the multipart envelope so those checks still give the friendlier form error for
files just over their limit. The device endpoints are not handled here: they enforce
``ONPREM_DEVICE_MAX_MESSAGE_BYTES`` themselves and answer 413 in the device protocol's format.
"""
import json
import re

from django.conf import settings
from django.http import HttpResponse

KIB = 1024
MIB = 1024 * KIB
# Room for the multipart boundaries, headers and the other (small) fields of an upload form.
ENVELOPE = 64 * KIB

# Paths that enforce their own limit (licensing/transport/views.py).
DEVICE_PATHS = re.compile(r"^/(SmartTransport$|Transportgateway/services/DeviceRequestHandler$|cslu/v1/pi/)")


def _csv_limit():
    from accounts.services.groups import MAX_UPLOAD_BYTES

    return MAX_UPLOAD_BYTES + ENVELOPE


def _certificate_import_limit():
    from onprem.certificates import MAX_PEM_BYTES

    return 3 * MAX_PEM_BYTES + ENVELOPE  # certificate, intermediates, key


def _sync_response_limit():
    try:
        from sync.documents.parse import MAX_DOCUMENT_BYTES
    except ImportError:  # without sync.documents: a fixed bound
        MAX_DOCUMENT_BYTES = 64 * MIB
    return MAX_DOCUMENT_BYTES + ENVELOPE


def _setting(name, default):
    return lambda: getattr(settings, name, default)


# (path pattern, limit in bytes as a callable, what it is) -- first match wins.
PATH_LIMITS = [
    (re.compile(r"^/accounts/\d+/manage/user-groups/\d+/upload/$"), _csv_limit, "user list (CSV)"),
    (re.compile(r"^/admin/security/certificates/import/$"), _certificate_import_limit, "certificate import"),
    # The LDAP CA certificate is a text area (64 KB of PEM, percent-encoded in the form).
    (re.compile(r"^/admin/access/ldap/$"), _setting("ONPREM_MAX_LDAP_FORM_BYTES", 512 * KIB), "LDAP settings form"),
    (re.compile(r"^/admin/sync/\d+/response/$"), _sync_response_limit, "synchronization response file"),
    (re.compile(r"^/(backend/)?oauth/token$"), _setting("ONPREM_MAX_TOKEN_REQUEST_BYTES", 64 * KIB), "token request"),
    (re.compile(r"^/(backend/)?api/"), _setting("ONPREM_MAX_API_REQUEST_BYTES", MIB), "API request"),
]


def limit_for(path):
    """(limit in bytes, label) for a request path; None for the device endpoints."""
    if DEVICE_PATHS.match(path):
        return None
    for pattern, limit, label in PATH_LIMITS:
        if pattern.match(path):
            return limit(), label
    return getattr(settings, "ONPREM_MAX_REQUEST_BYTES", MIB), "request"


def _size(count):
    if count >= MIB:
        return f"{count / MIB:.1f} MB"
    return f"{max(1, round(count / KIB))} KB"


def _refusal(path, status, message):
    if re.match(r"^/(backend/)?oauth/token$", path):
        body = {"error": "invalid_request", "error_description": message}
    elif re.match(r"^/(backend/)?api/", path):
        body = {"status": "ERROR", "statusMessage": message}
    else:
        return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


class RequestSizeLimitMiddleware:
    """413 for a declared body over the path's limit; 400 for a Content-Length that is not a number."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH")
        if declared in (None, ""):
            return self.get_response(request)
        rule = limit_for(request.path_info)
        if rule is None:
            return self.get_response(request)
        limit, label = rule
        try:
            length = int(declared)
            if length < 0:
                raise ValueError
        except ValueError:
            return _refusal(request.path_info, 400, "The Content-Length header is not a valid length.")
        if length > limit:
            # (No "Connection: close" here: WSGI forbids hop-by-hop headers; the server closes.)
            return _refusal(
                request.path_info, 413,
                f"The {label} is too large: {length} bytes were sent, at most {limit} bytes ({_size(limit)}) "
                "are accepted here.",
            )
        return self.get_response(request)
