"""Request ids and structured logs.

Every request gets an id: the caller's ``X-Request-ID`` when it is a sane token (a proxy or a
load balancer may set one), else a new one. It is echoed in the response header and carried
by every log record written while the request runs, so one request's lines can be found
across the web log, the access log and the support bundle. The log file is JSON lines
(``JsonFormatter``); the console stays plain text for people.
"""

import contextvars
import json
import logging
import re
import uuid
from datetime import datetime, timezone

request_id_var = contextvars.ContextVar("onprem_request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
HEADER = "X-Request-ID"


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = offered if _SANE_ID.match(offered) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (``-`` outside a request) for the formatters."""

    def filter(self, record):
        # Django logs 4xx/5xx responses after the middleware has returned, with the request
        # attached to the record: take the id from there first.
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, process, request id, message, exception."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "request_id": getattr(record, "request_id", request_id_var.get()),
            "message": record.getMessage(),
        }
        status = getattr(record, "status_code", None)
        if status is not None:
            entry["status"] = status
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:  # rendered (and scrubbed) by core.log_scrub's filter when it ran first
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)
