"""Fixtures for the embedded OAuth2 server and the API Toolkit: grants made by the real services."""

import base64

import pytest

from accounts.services import api_grants
from tests.api.openapi_check import validating_request


@pytest.fixture(autouse=True)
def _every_api_reply_matches_the_schema(monkeypatch):
    """Every exchange under /api/, /backend/api/ and the token paths is checked against the
    published OpenAPI schema (tests/api/openapi_check.py): a reply it does not describe fails."""
    from django.test.client import Client

    monkeypatch.setattr(Client, "request", validating_request(Client.request))


@pytest.fixture
def cc_grant(make_grant, make_account):
    """A Client Credentials grant with Account Admin on "Acme": (grant, secret, account)."""
    account = make_account("Acme")
    grant, secret = make_grant("machine")
    api_grants.add_access(actor=None, grant=grant, account=account, role="account_admin")
    return grant, secret, account


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
