"""Every reply under /api/v1 and /backend/api/v1 is the API's JSON body, errors included.

404 (no such endpoint), 405 (wrong method), 406 (an Accept the API cannot give), 415 (a body
that is no JSON, a real form body among them) and 500 (a crash) all answer
``{"status": "ERROR", "statusMessage": ...}`` with ``application/json``, never a Django HTML
page or DRF's ``{"detail": ...}``. The workspaces keep their HTML error pages.
"""

import json

import pytest
from django.test import Client
from django.urls import path

from licensing.api.replies import FORM_BODY, ApiView
from onprem import urls as onprem_urls

from .conftest import PREFIXES

pytestmark = pytest.mark.django_db


def _crash(request):
    raise RuntimeError("boom: a bug in a plain view")


class _CrashingApiView(ApiView):
    authentication_classes = []
    permission_classes = []

    def get(self, request):
        raise RuntimeError("boom: a bug in an API view")


# The product's URLconf plus views that fail under both API prefixes and in a workspace.
urlpatterns = [
    path("api/v1/test-500", _crash),
    path("backend/api/v1/test-500", _CrashingApiView.as_view()),
    path("test-500/", _crash),
    *onprem_urls.urlpatterns,
]
handler400 = onprem_urls.handler400
handler403 = onprem_urls.handler403
handler404 = onprem_urls.handler404
handler500 = onprem_urls.handler500


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__


def _client():
    return Client(raise_request_exception=False)


def _api_error(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"status", "statusMessage"}
    assert body["status"] == "ERROR" and isinstance(body["statusMessage"], str) and body["statusMessage"]
    return body["statusMessage"]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("tail", ["/nope", "/accounts/Acme/nope", "", "/accounts/Acme/virtual-accounts/"])
def test_an_unknown_api_path_is_a_json_404(api_as, people, prefix, tail):
    api = api_as(people["sysadmin"])
    response = _client().get(prefix + tail, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert "No API endpoint at" in _api_error(response, 404)


def test_an_unknown_api_path_is_a_json_404_without_a_token_too(db):
    _api_error(_client().get("/api/v1/nope"), 404)
    _api_error(_client().post("/backend/api/v1/nope", "{}", content_type="application/json"), 404)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    "method, tail",
    [("get", "/accounts/Acme/licenses"), ("put", "/accounts/Acme/virtual-accounts"), ("patch", "/accounts")],
)
def test_a_wrong_method_is_a_json_405(api_as, people, prefix, method, tail):
    api = api_as(people["sysadmin"])
    response = getattr(_client(), method)(prefix + tail, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert method.upper() in _api_error(response, 405)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_an_accept_the_api_cannot_give_is_a_json_406(api_as, people, prefix):
    api = api_as(people["sysadmin"])
    response = _client().get(
        prefix + "/accounts", HTTP_AUTHORIZATION=f"Bearer {api.token}", HTTP_ACCEPT="application/xml"
    )
    _api_error(response, 406)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_browser_gets_json_not_drfs_html_page(api_as, people, prefix):
    api = api_as(people["sysadmin"])
    response = _client().get(
        prefix + "/accounts",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
        HTTP_ACCEPT="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/json"


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    "body, content_type, text",
    [
        ("limit=5", "application/x-www-form-urlencoded", FORM_BODY),
        ("limit=5&offset=0", "application/x-www-form-urlencoded", FORM_BODY),
        ("x", "text/plain", "text/plain"),
        ("<limit>5</limit>", "application/xml", "application/xml"),
    ],
)
def test_a_body_that_is_no_json_is_a_json_415(api_as, people, estate, prefix, body, content_type, text):
    api = api_as(people["sysadmin"])
    response = _client().post(
        prefix + "/accounts/Acme/devices", body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {api.token}"
    )
    assert text in _api_error(response, 415)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_json_under_the_form_type_is_still_read_as_json(api_as, people, estate, prefix):
    api = api_as(people["sysadmin"])
    response = _client().post(
        prefix + "/accounts/Acme/licenses",
        json.dumps({"virtualAccounts": ["Physics"], "limit": 1}),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert response.status_code == 200
    body = json.loads(response.content)
    assert [r["virtualAccount"] for r in body["licenses"]] == ["Physics"]


@pytest.mark.parametrize("url", ["/api/v1/test-500", "/backend/api/v1/test-500"])
def test_a_crash_under_the_api_is_a_json_500(production, url):
    text = _api_error(_client().get(url), 500)
    assert text.startswith("The server could not complete the request.")
    assert "boom" not in text  # no internals


def test_the_workspaces_keep_their_html_error_pages(production, db):
    response = _client().get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    response = _client().get("/test-500/")
    assert response.status_code == 500 and b"<!DOCTYPE html>" in response.content
    # A path that merely starts with "api" is no API path.
    response = _client().get("/apiary/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
