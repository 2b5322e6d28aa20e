"""Where an identity provider's endpoints are, and which issuers and audiences its tokens carry.

* ADFS V4 (Windows Server 2016+) publishes OpenID Connect discovery at
  ``<server>/adfs/.well-known/openid-configuration``; it returns an ID token, and an access
  token (a JWT for the relying party named by the ADFS Resource Name) with the issuance
  transform rules' claims.
* ADFS V3 (Windows Server 2012 R2) has no discovery document and no ID token: the endpoints sit
  at fixed paths and the claims come in the access token, signed by the token-signing
  certificate published at ``/adfs/discovery/keys``.
* An SSO client talks to any OpenID Connect server: discovery at
  ``<authentication server>/.well-known/openid-configuration`` and claims in the ID token.
"""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

HTTP_TIMEOUT = 10


class ProviderError(Exception):
    """The identity provider could not be reached or answered something unusable."""


@dataclass
class Endpoints:
    authorization: str
    token: str
    jwks: str
    id_token_issuers: list = field(default_factory=list)
    access_token_issuers: list = field(default_factory=list)
    uses_id_token: bool = True
    uses_access_token: bool = False
    scope: str = "openid"


def _base(config):
    base = config.server_url.strip().rstrip("/")
    if config.kind == "adfs" and base.lower().endswith("/adfs"):
        base = base[: -len("/adfs")]
    return base


def http_get_json(url):
    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT, headers={"Accept": "application/json"})
    except requests.RequestException as error:
        raise ProviderError(f"{url} cannot be reached ({type(error).__name__})") from None
    if response.status_code != 200:
        raise ProviderError(f"{url} answered HTTP {response.status_code}")
    try:
        document = response.json()
    except ValueError:
        raise ProviderError(f"{url} did not answer JSON") from None
    if not isinstance(document, dict):
        raise ProviderError(f"{url} did not answer a JSON object")
    return document


def _discover(url):
    document = http_get_json(url)
    missing = [
        key
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "issuer")
        if not isinstance(document.get(key), str) or not document.get(key)
    ]
    if missing:
        raise ProviderError(f"the discovery document at {url} lacks {', '.join(missing)}")
    return document


def endpoints(config):
    """The Endpoints of the provider ``config`` (an ExternalIdentityProvider) describes."""
    base = _base(config)
    if config.kind == "adfs" and config.adfs_mode == "v3":
        host = urlsplit(base).netloc
        # ADFS writes its issuer with http:// whatever scheme the server is reached by.
        issuers = [f"http://{host}/adfs/services/trust", f"https://{host}/adfs/services/trust"]
        return Endpoints(
            authorization=f"{base}/adfs/oauth2/authorize",
            token=f"{base}/adfs/oauth2/token",
            jwks=f"{base}/adfs/discovery/keys",
            access_token_issuers=issuers,
            uses_id_token=False,
            uses_access_token=True,
            scope="",
        )
    if config.kind == "adfs":
        document = _discover(f"{base}/adfs/.well-known/openid-configuration")
        access_issuer = document.get("access_token_issuer") or document["issuer"]
        return Endpoints(
            authorization=document["authorization_endpoint"],
            token=document["token_endpoint"],
            jwks=document["jwks_uri"],
            id_token_issuers=[document["issuer"]],
            access_token_issuers=[access_issuer],
            uses_id_token=True,
            uses_access_token=True,
            scope="openid allatclaims",
        )
    document = _discover(f"{base}/.well-known/openid-configuration")
    return Endpoints(
        authorization=document["authorization_endpoint"],
        token=document["token_endpoint"],
        jwks=document["jwks_uri"],
        id_token_issuers=[document["issuer"]],
        scope="openid profile email",
    )


def access_token_audiences(config):
    name = config.resource_name.strip()
    return [name, f"microsoft:identityserver:{name}"] if name else []


def client(config, redirect_uri, scope=""):
    """An authlib OAuth 2.0 client of the provider ``config`` describes: PKCE S256, and the client
    secret (when there is one) sent in the token request's body, as ADFS accepts it."""
    return OAuth2Session(
        client_id=config.client_id,
        client_secret=config.client_secret or None,
        token_endpoint_auth_method="client_secret_post" if config.client_secret else "none",
        scope=scope or None,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        default_timeout=HTTP_TIMEOUT,
    )


def _only_success(response):
    """RFC 6749 5.1: tokens come with HTTP 200 only; any other answer is a refusal, whatever its body."""
    if response.status_code == 200:
        return response
    try:
        reason = response.json().get("error")
    except (ValueError, AttributeError):
        reason = None
    raise ProviderError(
        f"the token endpoint refused the code (HTTP {response.status_code}"
        + (f", {reason}" if isinstance(reason, str) else "")
        + ")"
    )


def exchange_code(config, token_endpoint, *, code, redirect_uri, code_verifier):
    """Trade the authorization code for the token response (a dict), with the PKCE verifier."""
    session = client(config, redirect_uri)
    session.register_compliance_hook("access_token_response", _only_success)
    extra = {"resource": config.resource_name} if config.kind == "adfs" and config.resource_name else {}
    try:
        with session:
            return dict(
                session.fetch_token(
                    token_endpoint, grant_type="authorization_code", code=code, code_verifier=code_verifier, **extra
                )
            )
    except requests.RequestException as error:  # before ValueError: some of them are ValueErrors too
        raise ProviderError(f"the token endpoint cannot be reached ({type(error).__name__})") from None
    except OAuthError as error:
        raise ProviderError(f"the token endpoint refused the code (HTTP 200, {error.error})") from None
    except ValueError:  # authlib: the answer is not a JSON object
        raise ProviderError("the token endpoint refused the code (HTTP 200)") from None
