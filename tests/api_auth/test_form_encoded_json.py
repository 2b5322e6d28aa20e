"""A JSON body under the form content type (``curl -d '{...}'`` without ``-H 'Content-Type:
application/json'``), at the token endpoint and on API calls: read as the JSON it is, never a 5xx.

Every prefix (``/oauth/token``, ``/backend/oauth/token``; ``/api/v1``, ``/backend/api/v1``) and
both grants (client credentials, password).
"""

import json

import pytest
from django.test import Client
from oauth2_provider.models import AccessToken

from accounts.api_clients import ApiGrant
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
TOKEN_PATHS = ["/oauth/token", "/backend/oauth/token"]
API_PREFIXES = ["/api/v1", "/backend/api/v1"]
GRANTS = [ApiGrant.GrantType.CLIENT_CREDENTIALS, ApiGrant.GrantType.PASSWORD]


@pytest.fixture
def credentials(cc_grant, password_grant, sysadmin):
    """credentials(grant_type) -> the token request's parameters for that grant."""
    grant, secret, _account = cc_grant
    people, people_secret = password_grant

    def _for(grant_type):
        if grant_type == ApiGrant.GrantType.CLIENT_CREDENTIALS:
            return {"grant_type": "client_credentials", "client_id": grant.client_id, "client_secret": secret}
        return {
            "grant_type": "password",
            "client_id": people.client_id,
            "client_secret": people_secret,
            "username": sysadmin.username,
            "password": PASSWORD,
        }

    return _for


def _json(response):
    """The JSON of a reply, streamed (the device list) or not."""
    if response.streaming:
        return json.loads(b"".join(response.streaming_content))
    return response.json()


def _client():
    # The reply a curl user would see, not the test client's re-raised exception.
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("grant_type", GRANTS)
@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_token_request_json_under_the_form_type_is_read_as_json(credentials, path, grant_type):
    response = _client().post(path, json.dumps(credentials(grant_type)), content_type=FORM)
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "Bearer" and response.json()["access_token"]
    assert AccessToken.objects.count() == 1


@pytest.mark.parametrize("grant_type", GRANTS)
@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_token_request_real_form_body_still_works(credentials, path, grant_type):
    response = _client().post(path, credentials(grant_type))  # the test client's form encoding
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("body", [b"{not json", b'{"grant_type": ["client_credentials"]}', b"{\xff}"])
@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_token_request_broken_json_under_the_form_type_is_a_clear_400(cc_grant, path, body):
    response = _client().post(path, body, content_type=FORM)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_request" and response.json()["error_description"]
    assert not AccessToken.objects.exists()


def _token(credentials, grant_type):
    response = _client().post("/oauth/token", credentials(grant_type), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


@pytest.mark.parametrize("grant_type", GRANTS)
@pytest.mark.parametrize("prefix", API_PREFIXES)
def test_api_call_json_under_the_form_type_is_read_as_json(credentials, prefix, grant_type):
    token = _token(credentials, grant_type)
    response = _client().post(
        f"{prefix}/accounts/Acme/devices",
        json.dumps({"limit": 5}),
        content_type=FORM,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200
    assert _json(response)["status"] == "SUCCESS"
    # And the limit was read: a wrong type in the same body is the API's own 422.
    response = _client().post(
        f"{prefix}/accounts/Acme/devices",
        json.dumps({"limit": "5"}),
        content_type=FORM,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 422
    assert response.json()["status"] == "ERROR"


@pytest.mark.parametrize("body", ["limit=5", "{not json", "[1, 2]", "null", ""])
@pytest.mark.parametrize("grant_type", GRANTS)
@pytest.mark.parametrize("prefix", API_PREFIXES)
def test_api_call_other_bodies_under_the_form_type_get_the_apis_json_error(credentials, prefix, grant_type, body):
    token = _token(credentials, grant_type)
    response = _client().post(
        f"{prefix}/accounts/Acme/devices", body, content_type=FORM, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code < 500
    assert response["Content-Type"] == "application/json"
    if response.status_code != 200:
        assert response.status_code in (415, 422)
        assert _json(response)["status"] == "ERROR" and _json(response)["statusMessage"]


@pytest.mark.parametrize("prefix", API_PREFIXES)
def test_a_bad_token_with_a_form_encoded_json_body_is_still_403(cc_grant, prefix):
    response = _client().post(
        f"{prefix}/accounts/Acme/devices",
        json.dumps({"limit": 5}),
        content_type=FORM,
        HTTP_AUTHORIZATION="Bearer not-a-token",
    )
    assert response.status_code == 403
    assert response.json() == {"status": "ERROR", "statusMessage": "Access Restricted"}
