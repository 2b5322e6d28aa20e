"""Security headers on every main page, and templates that keep to the strict Content-Security-Policy."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from core.security_headers import DEFAULT_CSP

pytestmark = pytest.mark.django_db
ROOT = Path(django_settings.BASE_DIR)

ADMIN_PAGES = [
    "/admin/",
    "/admin/users/",
    "/admin/accounts/",
    "/admin/access/",
    "/admin/access/ldap/",
    "/admin/settings/",
    "/admin/security/",
    "/admin/security/password/",
    "/admin/security/certificates/",
    "/admin/network/",
    "/admin/support/",
    "/admin/api/",
    "/admin/sync/",
]  # /admin/ha/ is 404 without a cluster
ACCOUNT_PAGES = [
    "/accounts/{id}/inventory/",
    "/accounts/{id}/inventory/licenses/",
    "/accounts/{id}/inventory/product-instances/",
    "/accounts/{id}/manage/",
    "/accounts/{id}/manage/user-groups/",
    "/accounts/{id}/activity/",
    "/accounts/{id}/alerts/",
    "/accounts/{id}/reports/",
]
PUBLIC = ["/login/", "/healthz", "/readyz", "/api/v1/docs", "/api/v1/docs/docs.js", "/no-such-page/"]


def _assert_headers(response, path):
    csp = response.headers.get("Content-Security-Policy", "")
    assert csp == DEFAULT_CSP, path
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp and "script-src 'self'" in csp
    assert response.headers.get("X-Frame-Options") == "DENY", path
    assert response.headers.get("X-Content-Type-Options") == "nosniff", path
    assert response.headers.get("Referrer-Policy") == "same-origin", path
    assert "camera=()" in response.headers.get("Permissions-Policy", ""), path


class _InlineFinder(HTMLParser):
    """Collects inline scripts, inline style blocks and attributes, and on* event handler attributes."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script" and "src" not in names and names.get("type") not in ("application/json",):
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style> block")
        for name, _value in attrs:
            if name == "style":
                self.found.append(f"style= on <{tag}>")
            if name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")


def _inline_parts(html):
    finder = _InlineFinder()
    finder.feed(html)
    return finder.found


@pytest.fixture
def pages(admin_client, make_account):
    account = make_account("Acme")
    return admin_client, [path.format(id=account.pk) for path in ["/", *ADMIN_PAGES, *ACCOUNT_PAGES]]


def test_every_main_page_carries_the_headers_and_no_inline_code(pages):
    client, paths = pages
    for path in paths:
        response = client.get(path, follow=True)
        assert response.status_code == 200, path
        _assert_headers(response, path)
        if response["Content-Type"].startswith("text/html"):
            assert _inline_parts(response.content.decode()) == [], path


@pytest.mark.parametrize("path", PUBLIC)
def test_public_pages_and_errors_carry_the_headers(client, path):
    response = client.get(path)
    # /readyz is 503 while no Celery worker has reported in; the headers are there either way.
    assert response.status_code in ((200, 503) if path == "/readyz" else (200, 404)), path
    _assert_headers(response, path)
    if response["Content-Type"].startswith("text/html"):
        assert _inline_parts(response.content.decode()) == [], path


def test_refusals_made_before_the_view_carry_the_headers(client):
    too_large = client.post("/login/", {"password": "x" * (1024 * 1024 + 1)})
    assert too_large.status_code == 413
    _assert_headers(too_large, "413")
    no_csrf = type(client)(enforce_csrf_checks=True).post("/login/", {"username": "a", "password": "b"})
    assert no_csrf.status_code == 403
    _assert_headers(no_csrf, "403")


def test_hsts_over_https(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    response = client.get("/login/", secure=True)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_the_settings_banner_keeps_its_colours_without_inline_style(admin_client, sysadmin):
    from core.models import SystemSettings
    from core.system_settings import prime_cache

    row = SystemSettings.objects.filter(pk=1).first() or SystemSettings(pk=1)
    row.banner_text, row.banner_text_color, row.banner_background_color = "TEST SYSTEM", "#ffffff", "#123456"
    row.save()
    prime_cache(row)
    html = admin_client.get("/").content.decode()
    assert 'data-text-color="#ffffff" data-background-color="#123456"' in html
    assert _inline_parts(html) == []
    script = (ROOT / "static" / "onprem" / "onprem.js").read_text()
    assert 'banner.style.color = banner.getAttribute("data-text-color")' in script


def _template_files():
    folders = [ROOT / "templates", ROOT / "licensing" / "api" / "assets"]
    folders += [path for path in ROOT.glob("*/templates") if path.is_dir()]
    return sorted({path for folder in folders for path in folder.rglob("*.html")})


SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*["']""", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"""\sstyle\s*=\s*["']""", re.IGNORECASE)


def test_no_template_has_inline_script_style_or_event_handlers():
    files = _template_files()
    assert len(files) > 50  # the walk really finds the templates
    offenders = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT)
        offenders += [f"{name}: <script> without src" for attrs in SCRIPT_TAG.findall(text) if "src=" not in attrs]
        offenders += [f"{name}: on*= handler" for _ in EVENT_HANDLER.findall(text)]
        offenders += [f"{name}: style= attribute" for _ in STYLE_ATTRIBUTE.findall(text)]
        offenders += [f"{name}: <style> block" for _ in re.findall(r"<style\b", text, re.IGNORECASE)]
    assert offenders == []


def test_the_template_check_can_fail():
    assert _inline_parts('<div onclick="x()">a</div><script>alert(1)</script><p style="color:red">') == [
        "onclick= on <div>",
        "<script> without src",
        "style= on <p>",
    ]
    assert SCRIPT_TAG.findall("<script>alert(1)</script>") == [""]
    assert EVENT_HANDLER.search('<select onchange="this.form.submit()">')


def test_the_api_docs_page_takes_its_styles_from_a_file(client):
    html = client.get("/api/v1/docs").content.decode()
    assert '<link rel="stylesheet" href="/static/onprem/api-docs.css">' in html and "<style" not in html
    assert (ROOT / "static" / "onprem" / "api-docs.css").read_text().count("{") > 5
