"""The lean path of the device endpoints: a device message skips the browser middleware.

The device endpoints (``/SmartTransport``, the Call Home URL, the CSLU push: the URL map named
by ``ONPREM_DEVICE_URLCONF``) are answered by this middleware itself, once the request id,
metrics, product-listener routing, admission, database-unavailable, security-header and
size-limit middleware before it have run. The session, locale, common, CSRF, authentication,
messages, system-settings (a cache read per request), idle-timeout, language and first-login
middleware after it do nothing a device message needs: a device never has a session or a
user, the views are CSRF-exempt, and a device's reply is English whatever the default language
of the web pages. docs/development/life-of-a-request.md shows both paths.

The handler's ``process_exception`` hooks do not run for a view called here, so the one this
path needs, the database-unavailable 503, is answered here too.

The persistent database connection's health check (``CONN_HEALTH_CHECKS``: a ``SELECT 1`` round
trip before a request's first query) is replaced here by a look at the connection's socket,
which costs no round trip: an idle PostgreSQL connection has nothing to read, while one the
server ended (a restart, ``pg_terminate_backend``, an idle timeout) has its FATAL message or its
end of file waiting. A socket with anything to read gets Django's full check (``SELECT 1``,
closed and reconnected when it fails); a quiet one none. A connection lost without a word (a
network cut) fails at its first statement, answered 503 + Retry-After (closed after the request,
as Django closes a connection that failed): the same as with the ``SELECT 1``, which would have
failed the same way.
"""

import select

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.urls import Resolver404, resolve

from .db_unavailable import is_unavailable, unavailable


def _socket_quiet(raw):
    """Whether the PostgreSQL connection ``raw`` (psycopg2) is open with nothing waiting to be read."""
    if raw.closed:
        return False
    poller = select.poll()
    poller.register(raw.fileno(), select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return not poller.poll(0)


def skip_health_check(alias=DEFAULT_DB_ALIAS):
    """Mark this request's health check of the ``alias`` connection done when its socket is quiet."""
    conn = connections[alias]
    if conn.vendor != "postgresql" or conn.connection is None or conn.health_check_done:
        return
    if conn.health_check_enabled and _socket_quiet(conn.connection):
        conn.health_check_done = True


class DevicePathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.urlconf = settings.ONPREM_DEVICE_URLCONF

    def __call__(self, request):
        try:
            match = resolve(request.path_info, urlconf=self.urlconf)
        except Resolver404:
            match = None
        if match is None:
            return self.get_response(request)
        request.resolver_match = match
        skip_health_check()
        try:
            response = match.func(request, *match.args, **match.kwargs)
        except DatabaseError as error:
            if not is_unavailable(error):
                raise
            return unavailable(request, error)
        if callable(getattr(response, "render", None)) and not getattr(response, "is_rendered", True):
            response = response.render()
        return response
