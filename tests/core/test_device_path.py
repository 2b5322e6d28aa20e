"""The device endpoints' lean path (core/device_path.py): a device message is answered by the
middleware before the browser stack, so it keeps the request id, the security headers and the size
limit, and gets none of the session, locale, messages or settings work."""

import pytest
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core import system_settings

pytestmark = pytest.mark.django_db


def test_a_device_message_skips_the_browser_middleware_and_keeps_the_rest():
    system_settings.update("language", actor=None, default_language="ja")  # the web pages' language
    client = Client()
    reply = client.post("/SmartTransport", data=b"{not json", content_type="application/json", secure=True)
    assert reply.status_code == 400
    assert "X-Request-Id" in reply.headers  # core.observability, before it
    assert reply.headers["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware, before it
    assert "Content-Security-Policy" in reply.headers  # core.security_headers, before it
    # None of what comes after: LocaleMiddleware's Content-Language and Vary, a session cookie,
    # and the Japanese the settings middleware would switch to.
    assert "Content-Language" not in reply.headers
    assert "Cookie" not in reply.headers.get("Vary", "") and "Accept-Language" not in reply.headers.get("Vary", "")
    assert not reply.cookies
    assert reply.content.decode().isascii()
    assert reply.wsgi_request.resolver_match.url_name


def test_the_size_limit_still_answers_first():
    client = Client()
    big = b"x" * (2 * 1024 * 1024)
    reply = client.post("/SmartTransport", data=big, content_type="application/json", secure=True)
    assert reply.status_code == 413


def test_a_workspace_page_still_runs_the_whole_stack(client):
    page = client.get("/login/", secure=True)
    assert page.status_code == 200
    assert "Content-Language" in page.headers


def test_a_database_failure_on_the_device_path_is_503_with_retry_after(monkeypatch):
    """The handler's process_exception hooks do not run for a view the lean path calls: the
    database-unavailable answer is made there too (a device retries a 503, not a 500)."""
    from django.db import OperationalError

    from licensing.transport import views

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(views, "process", down)
    reply = Client().post("/SmartTransport", data=b"{}", content_type="application/json", secure=True)
    assert reply.status_code == 503 and reply.headers["Retry-After"] == "5"
    assert reply.json()["statusMessage"] == "The database is not available right now. Retry later."


def _health_checks(monkeypatch, connection):
    calls = []
    real = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: calls.append(1) or real())
    return calls


def test_a_device_message_on_a_live_connection_sends_no_select_1(monkeypatch):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite has no health check")
    connection.ensure_connection()
    calls = _health_checks(monkeypatch, connection)
    client = Client()
    for _ in range(2):  # a push to an account that does not exist: a query, then 404
        connection.health_check_done = False  # as at the start of every request (close_old_connections)
        with CaptureQueriesContext(connection) as seen:
            reply = client.post("/cslu/v1/pi/Nobody-1", data=b"{}", content_type="application/json", secure=True)
        assert reply.status_code == 404 and seen.captured_queries
    assert calls == []
    # The browser path keeps Django's check: the test can see one.
    connection.health_check_done = False
    client.get("/login/", secure=True)
    assert calls == [1]


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_database_ended_is_checked_and_replaced_before_the_message(monkeypatch):
    import select

    import psycopg2
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite has no health check")
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    settings_dict = connection.settings_dict
    killer = psycopg2.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
    )
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        killer.close()
    select.select([connection.connection.fileno()], [], [], 5)  # the server's goodbye has arrived
    calls = _health_checks(monkeypatch, connection)
    connection.health_check_done = False
    reply = Client().post("/cslu/v1/pi/Nobody-1", data=b"{}", content_type="application/json", secure=True)
    # Answered on a new connection (404: no such account, read from the database), not 503.
    assert reply.status_code == 404, reply.content[:200]
    assert calls == [1]
    assert connection.connection.info.backend_pid != pid
