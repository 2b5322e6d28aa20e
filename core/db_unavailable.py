"""A database that cannot be reached answers 503 with Retry-After, not a bare 500.

During a Postgres restart or fail-over, every request fails on its connection. "Retry later"
is the truthful answer: the reference agent (and load balancers) retry 503 with Retry-After,
while a 500 means "this request is broken" and is not retried. Django reconnects by itself on
the next request (CONN_HEALTH_CHECKS), so the outage lasts only as long as the database's.

A write refused because the server only reads now (SQLSTATE 25006: a primary being demoted, or
a standby in mid-promotion, which pg_auto_failover keeps read-only until the monitor confirms it)
is the same "retry later"; the connection to that server is closed as well, since it still
answers the health check, so the next request connects again and ``target_session_attrs=
read-write`` finds the new primary.
"""

import logging

from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
MACHINE_PREFIXES = (
    "/api/",
    "/backend/",
    "/oauth/",
    "/SmartTransport",
    "/Transportgateway/",
    "/cslu/",
    "/readyz",
    "/healthz",
    "/metrics",
)


READ_ONLY_SQL_TRANSACTION = "25006"


def read_only(error):
    """True for a write the server refused because it is read-only (SQLSTATE 25006)."""
    return getattr(error.__cause__, "pgcode", None) == READ_ONLY_SQL_TRANSACTION


def is_unavailable(error):
    """True for a database error that means "retry later": the connection failed, or the server
    only reads now (a failover in progress)."""
    return isinstance(error, (OperationalError, InterfaceError)) or (
        isinstance(error, DatabaseError) and read_only(error)
    )


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        except DatabaseError as error:
            if not is_unavailable(error):
                raise
            return self.unavailable(request, error)

    def process_exception(self, request, exception):
        if is_unavailable(exception):
            return self.unavailable(request, exception)
        return None

    def unavailable(self, request, error):
        return unavailable(request, error)


def unavailable(request, error):
    """The 503 + Retry-After answer for ``request`` when the database failed with ``error`` (also
    used by core.device_path, whose views run outside the handler's process_exception)."""
    logger.error("database unavailable for %s %s: %s", request.method, request.path, type(error).__name__)
    if read_only(error):
        # The server still answers (the health check would keep the connection): drop it.
        for connection in connections.all(initialized_only=True):
            try:
                connection.close()
            except DatabaseError:
                pass
    message = "The database is not available right now. Retry later."
    if request.path.startswith(MACHINE_PREFIXES):
        response = JsonResponse({"status": "ERROR", "statusMessage": message}, status=503)
    else:
        response = HttpResponse(
            f"<!DOCTYPE html><title>503</title><h1>Service Unavailable</h1><p>{message}</p>", status=503
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
