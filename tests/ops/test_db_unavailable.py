"""A lost database answers 503 + Retry-After (retried by agents), never a bare 500."""

import json

from django.db import OperationalError


def test_middleware_turns_connection_errors_into_503(rf):
    from core.db_unavailable import DatabaseUnavailableMiddleware

    def view(request):
        raise OperationalError("could not connect to server: Connection refused")

    middleware = DatabaseUnavailableMiddleware(view)
    device = middleware(rf.post("/SmartTransport", data=b"{}", content_type="application/json"))
    assert device.status_code == 503 and device["Retry-After"] == "5"
    assert json.loads(device.content)["status"] == "ERROR"
    page = middleware(rf.get("/accounts/1/inventory/"))
    assert page.status_code == 503 and b"Retry later" in page.content and page["Retry-After"] == "5"


def test_other_errors_are_not_hidden(rf):
    import pytest

    from core.db_unavailable import DatabaseUnavailableMiddleware

    def view(request):
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        DatabaseUnavailableMiddleware(view)(rf.get("/"))


class _ServerError(Exception):
    """Stands for psycopg2's error (the cause Django's wrapper keeps), with its SQLSTATE."""

    def __init__(self, pgcode):
        super().__init__(pgcode)
        self.pgcode = pgcode


def _raising(pgcode):
    from django.db import InternalError

    def view(request):
        raise InternalError("cannot execute UPDATE in a read-only transaction") from _ServerError(pgcode)

    return view


def test_a_write_refused_by_a_read_only_server_is_retry_later_and_other_errors_are_not(rf):
    import pytest
    from django.db import InternalError

    from core.db_unavailable import DatabaseUnavailableMiddleware

    device = DatabaseUnavailableMiddleware(_raising("25006"))(
        rf.post("/SmartTransport", data=b"{}", content_type="application/json")
    )
    assert device.status_code == 503 and device["Retry-After"] == "5"
    with pytest.raises(InternalError):  # another SQLSTATE of the same class is a bug, not an outage
        DatabaseUnavailableMiddleware(_raising("25001"))(rf.get("/"))


def test_a_read_only_primary_mid_failover_answers_503_and_its_connection_is_dropped(rf, transactional_db):
    """The real refusal (SQLSTATE 25006 from PostgreSQL) through the middleware: 503, and the
    connection closed, since it would pass the health check and stay on the read-only server."""
    import pytest
    from django.db import connection

    from core.db_unavailable import DatabaseUnavailableMiddleware
    from tests.conftest import on_postgres

    if not on_postgres():
        pytest.skip("needs PostgreSQL (DATABASE_URL)")

    def view(request):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE django_content_type SET model = model WHERE false")
        return None

    with connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = on")  # what a demoted primary does
    answer = DatabaseUnavailableMiddleware(view)(
        rf.post("/SmartTransport", data=b"{}", content_type="application/json")
    )
    assert answer.status_code == 503 and answer["Retry-After"] == "5"
    assert connection.connection is None  # closed: the next query connects again (read-write)
    with connection.cursor() as cursor:
        cursor.execute("SHOW default_transaction_read_only")
        assert cursor.fetchone() == ("off",)
