"""The device endpoints' lean path (core/device_path.py): a device message is answered by the
middleware before the browser stack, so it keeps the request id, the security headers and the size
limit, and gets none of the session, locale, messages or settings work."""

import pytest
from django.test import Client

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
