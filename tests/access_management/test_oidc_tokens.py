"""accounts/oidc/tokens.py on its own: the checks the live provider (oidc_provider.py) cannot
reach through the widget's configuration."""

import hashlib
import hmac
import json
import time

import pytest

from accounts.oidc import tokens
from tests.access_management.oidc_provider import CLIENT_ID, KID, Provider, b64

ISSUER = "https://adfs.example/adfs"


@pytest.fixture(scope="module")
def idp():
    return Provider(0, CLIENT_ID, "")


def _claims(**overrides):
    now = int(time.time())
    return {"iss": ISSUER, "aud": CLIENT_ID, "sub": "s", "iat": now, "exp": now + 300, **overrides}


def test_a_valid_access_token_gives_its_claims(idp):
    token = idp.sign(_claims(upn="jo@corp.example"))
    claims = tokens.validate_access_token(token, tokens.load_jwks(idp.jwks()), issuers=[ISSUER], audiences=[CLIENT_ID])
    assert claims["upn"] == "jo@corp.example"


@pytest.mark.parametrize("issuers, audiences", [([ISSUER], []), ([], [CLIENT_ID])])
def test_no_configured_issuer_or_audience_accepts_nothing(idp, issuers, audiences):
    token = idp.sign(_claims())
    with pytest.raises(tokens.TokenInvalid, match="no issuer or audience is configured"):
        tokens.validate_access_token(token, tokens.load_jwks(idp.jwks()), issuers=issuers, audiences=audiences)


def test_a_token_naming_an_unpublished_kid_is_refused(idp):
    token = idp.sign(_claims(), kid="someone-elses-key")
    with pytest.raises(tokens.TokenInvalid, match="signature is not valid"):
        tokens.validate_access_token(token, tokens.load_jwks(idp.jwks()), issuers=[ISSUER], audiences=[CLIENT_ID])


def test_an_hmac_key_in_the_jwks_is_never_used(idp):
    # A JWKS that also publishes a symmetric key: an HS256 token made with it is still refused.
    jwks = idp.jwks()
    jwks["keys"].append({"kty": "oct", "kid": "shared", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"})
    signing_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'kid': 'shared'}).encode())}.{b64(json.dumps(_claims()).encode())}"
    )
    signature = hmac.new(b"secret-secret-secret-secret", signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(signature)}"
    with pytest.raises(tokens.TokenInvalid, match="signature is not valid"):
        tokens.validate_access_token(forged, tokens.load_jwks(jwks), issuers=[ISSUER], audiences=[CLIENT_ID])


@pytest.mark.parametrize(
    "document, reason",
    [
        ({"keys": []}, "published no signing keys"),
        ({"keys": [{"kty": "RSA", "kid": KID, "n": "not base64!", "e": "AQAB"}]}, "unreadable"),
        ({"nokeys": True}, "unreadable"),
    ],
)
def test_unusable_jwks_are_refused(document, reason):
    with pytest.raises(tokens.TokenInvalid, match=reason):
        tokens.load_jwks(document)
