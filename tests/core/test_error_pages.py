"""The 403, 404, CSRF-failure and 500 pages: the product's shell, translated, a way home; the
500 page carries the request id (the one on the request's log lines) and never fails itself.

Rendered with DEBUG=False, as in production (with DEBUG=True Django shows its technical pages).
"""

import re

import pytest
from django.core.exceptions import PermissionDenied
from django.template import loader
from django.test import Client
from django.urls import path

from accounts.models import SystemRole
from core import error_views
from onprem import urls as onprem_urls


def _fails(request):
    raise RuntimeError("boom: a bug in a view")


def _denied(request):
    raise PermissionDenied


# The product's URLconf plus a view that fails and one that refuses: what the handlers answer.
urlpatterns = [path("test-500/", _fails), path("test-403/", _denied), *onprem_urls.urlpatterns]
handler500 = onprem_urls.handler500


@pytest.fixture(autouse=True)
def production(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__


def _text(response):
    return re.sub(r"\s+", " ", response.content.decode())


def test_404_in_the_shell_with_a_way_home(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = _text(response)
    assert '<header class="topbar">' in page and "Smart Software Manager On-Prem" in page
    assert "<h1>Page not found</h1>" in page
    assert '<a class="btn" href="/">Go to the home page</a>' in page
    assert 'rel="stylesheet" href="/static/onprem/onprem.css"' in page


def test_404_for_a_signed_in_user_keeps_the_workspaces(make_user, login, db):
    client = login(make_user("admin404", SystemRole.ADMIN))
    page = _text(client.get("/admin/no-such-widget/"))
    assert 'aria-label="Workspaces"' in page and ">Administration</a>" in page and "Log Out" in page


@pytest.mark.parametrize(
    "language, heading, home",
    [
        ("ja", "ページが見つかりません", "ホームページへ"),
        ("zh-hans", "找不到页面", "前往首页"),
        ("ko", "페이지를 찾을 수 없습니다", "홈 페이지로 이동"),
    ],
)
def test_error_pages_speak_the_users_language(make_user, login, db, language, heading, home):
    client = login(make_user(f"user-{language}", SystemRole.ADMIN, language=language))
    page = _text(client.get("/no-such-page/"))
    assert f'lang="{language}"' in page
    assert f"<h1>{heading}</h1>" in page and home in page
    assert "Page not found" not in page


def test_403_in_the_shell(make_user, login, db):
    client = login(make_user("plain", SystemRole.USER))
    response = client.get("/admin/")
    assert response.status_code == 403
    page = _text(response)
    assert "<h1>Access denied</h1>" in page and 'href="/">Go to the home page' in page
    assert '<header class="topbar">' in page
    assert _text(client.get("/test-403/")).count("<h1>Access denied</h1>") == 1


def test_csrf_failure_says_what_to_do(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    page = _text(response)
    assert "<h1>The form could not be sent</h1>" in page and "reload the page" in page
    # Told apart from an RBAC refusal (tests/reliability/test_reliability_csrf_sessions.py).
    assert "Error 403 · CSRF" in page
    assert '<header class="topbar">' in page and 'href="/">Go to the home page' in page


def test_500_carries_the_request_id_of_the_log_lines(db, caplog):
    client = Client(raise_request_exception=False)
    response = client.get("/test-500/", HTTP_X_REQUEST_ID="req-500-abc")
    assert response.status_code == 500
    assert response["X-Request-ID"] == "req-500-abc"
    page = _text(response)
    assert "<h1>Something went wrong</h1>" in page and "<code>req-500-abc</code>" in page
    assert '<header class="topbar">' in page and 'href="/">Go to the home page' in page
    assert "boom" not in page, "the error's text is for the log, not for the page"
    logged = [r for r in caplog.records if r.name == "django.request" and r.levelname == "ERROR"]
    assert logged and logged[0].request.request_id == "req-500-abc"


def test_500_in_the_users_language(make_user, db):
    client = Client(raise_request_exception=False)
    client.force_login(make_user("ja-user", SystemRole.ADMIN, language="ja"))
    page = _text(client.get("/test-500/"))
    assert 'lang="ja"' in page and "Something went wrong" not in page
    assert re.search(r"<h1>[^<a-zA-Z]+</h1>", page), page[:2000]


def test_500_never_fails_even_when_its_template_does(db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("template engine down")

    monkeypatch.setattr(loader, "get_template", broken)
    client = Client(raise_request_exception=False)
    response = client.get("/test-500/", HTTP_X_REQUEST_ID="req-plain-1")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Server Error (500)" in page and "<code>req-plain-1</code>" in page and 'href="/"' in page


def test_500_needs_no_database_and_no_context_processors(rf):
    # No db fixture: any query (a context processor, the user) would raise here.
    request = rf.get("/")
    request.request_id = "rid-42"
    response = error_views.server_error(request)
    assert response.status_code == 500 and "<code>rid-42</code>" in response.content.decode()
