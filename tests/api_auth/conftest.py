"""Fixtures for the embedded OAuth2 server and the API Toolkit: grants made by the real services."""
import base64

import pytest

from accounts.api_clients import ApiGrant
from accounts.services import api_grants


@pytest.fixture
def console_on(db):
    api_grants.set_api_console(actor=None, enabled=True)


@pytest.fixture
def make_grant(console_on):
    """make_grant("ci", ApiGrant.GrantType.CLIENT_CREDENTIALS) -> (grant, client_secret)."""

    def _make(name="ci", grant_type=ApiGrant.GrantType.CLIENT_CREDENTIALS, **fields):
        return api_grants.create_grant(actor=None, grant_type=grant_type, name=name, **fields)

    return _make


@pytest.fixture
def cc_grant(make_grant, make_account):
    """A Client Credentials grant with Account Admin on "Acme": (grant, secret, account)."""
    account = make_account("Acme")
    grant, secret = make_grant("machine")
    api_grants.add_access(actor=None, grant=grant, account=account, role="account_admin")
    return grant, secret, account


@pytest.fixture
def password_grant(make_grant):
    return make_grant("people", ApiGrant.GrantType.PASSWORD)


def basic_auth(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def basic():
    return basic_auth


@pytest.fixture
def get_token(client):
    """get_token(grant, secret, username=..., password=...) -> an access token from /oauth/token (JSON)."""

    def _get(grant, secret, **extra):
        body = {"grant_type": grant.grant_type, "client_id": grant.client_id, "client_secret": secret, **extra}
        response = client.post("/oauth/token", body, content_type="application/json")
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    return _get
