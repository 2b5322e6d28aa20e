"""``Cache-Control: no-store`` on every page, export, API reply and device reply; static files stay cacheable."""

import pytest
from django.test import Client

from accounts.api_clients import ApiGrant
from accounts.roles import AccountRole
from accounts.services import api_grants
from accounts.services.grants import set_virtual_account_role
from tests.reliability.test_reliability_headers import ACCOUNT_PAGES, ADMIN_PAGES

pytestmark = pytest.mark.django_db

ACCOUNT_EXTRAS = [
    "/accounts/{id}/conversion/",
    "/accounts/{id}/conversion/settings/",
    "/accounts/{id}/conversion/export.csv",
    "/accounts/{id}/activity/export.csv",
]


def _no_store(response, path):
    assert "no-store" in response.get("Cache-Control", ""), (path, response.get("Cache-Control"))


@pytest.fixture
def account(make_account):
    return make_account("Acme")


def test_every_workspace_and_admin_page_is_no_store(sysadmin, login, account):
    client = login(sysadmin)
    paths = ["/", "/admin/users/export.csv", *ADMIN_PAGES, *ACCOUNT_PAGES, *ACCOUNT_EXTRAS]
    for path in (p.format(id=account.pk) for p in paths):
        response = client.get(path, follow=True)  # "/" and some tabs redirect to their first page
        assert response.status_code == 200, path
        _no_store(response, path)


def test_a_va_users_pages_are_no_store(make_user, login, account):
    user = make_user("carol")
    set_virtual_account_role(
        actor=None, virtual_account=account.virtual_accounts.get(), role=AccountRole.VA_USER, user=user
    )
    client = login(user)
    for path in ("/", f"/accounts/{account.pk}/inventory/", f"/accounts/{account.pk}/conversion/settings/"):
        response = client.get(path, follow=True)
        assert response.status_code == 200, path
        _no_store(response, path)


def test_redirects_errors_and_form_replies_are_no_store(sysadmin, login, account):
    client = login(sysadmin)
    for response, path in [
        (client.post(f"/admin/users/{sysadmin.pk}/disable/"), "refused action (302)"),
        (client.get("/no-such-page/"), "404"),
        (Client().get("/admin/users/"), "anonymous redirect to login"),
    ]:
        _no_store(response, path)


def test_api_replies_are_no_store(client, account):
    api_grants.set_api_console(actor=None, enabled=True)
    grant, secret = api_grants.create_grant(actor=None, grant_type=ApiGrant.GrantType.CLIENT_CREDENTIALS, name="ci")
    api_grants.add_access(actor=None, grant=grant, account=account, role="account_admin")
    token = client.post(
        "/oauth/token",
        {"grant_type": "client_credentials", "client_id": grant.client_id, "client_secret": secret},
        content_type="application/json",
    )
    assert token.status_code == 200
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token.json()['access_token']}"}
    for prefix in ("/api/v1", "/backend/api/v1"):
        for path in ("/accounts", f"/accounts/{account.name}/virtual-accounts"):
            response = client.get(prefix + path, **bearer)
            assert response.status_code == 200, path
            _no_store(response, prefix + path)
        alerts = client.post(f"{prefix}/accounts/{account.name}/alerts", {}, content_type="application/json", **bearer)
        assert alerts.status_code == 200, alerts.content[:300]
        _no_store(alerts, "alerts")
    _no_store(client.get("/api/v1/accounts"), "401 without a token")
    _no_store(client.get("/api/v1/schema"), "schema")


def test_device_replies_are_no_store(client):
    response = client.post("/SmartTransport", b"not a device message", content_type="application/json")
    assert 400 <= response.status_code < 500
    _no_store(response, "/SmartTransport")


def test_sign_in_pages_stay_no_store(client, policy):
    policy(forgot_password_enabled=True)
    for path in ("/login/", "/password/forgot/", "/password/reset/MQ/abc-123/"):
        _no_store(client.get(path), path)


def test_static_files_stay_cacheable(client):
    response = client.get("/static/onprem/onprem.js")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
    assert "max-age" in response.get("Cache-Control", "")


def test_a_view_that_chose_its_own_cache_lifetime_keeps_it(client):
    assert client.get("/api/v1/docs/docs.js")["Cache-Control"] == "max-age=3600"
