"""Validating the JWTs an identity provider returns, with joserfc (the JOSE library of authlib's
authors) and authlib's OpenID Connect ID-token rules.

The signature is checked against the provider's JWKS with RS256 only: "none" and the HMAC
algorithms are refused, so a token cannot be forged with the public key as an HMAC secret. Then
the claims: issuer, audience, expiry (required), not-before and issued-at with a leeway for clock
skew; an ID token also needs ``sub`` and ``iat`` and the nonce of this sign-in (OpenID Connect
Core 3.1.3.7, ``authlib.oidc.core.CodeIDToken``).
"""

from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
    MissingKeyError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet, RSAKey

ALLOWED_ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 60  # clock skew between this server and the identity provider

# What a failed claim check tells the user, per claim.
CLAIM_REASONS = {
    "iss": "the token was issued by an unexpected issuer",
    "aud": "the token is meant for another audience",
    "exp": "the token has no expiry",
    "nbf": "the token is not valid yet",
    "iat": "the token is not valid yet",
    "nonce": "the token's nonce does not match this sign-in",
}


class TokenInvalid(Exception):
    """The token failed validation; the message says why (never the token itself)."""


def load_jwks(document):
    """The provider's signing keys from its JWKS document (a dict)."""
    try:
        keys = KeySet.import_key_set(document)
    except MissingKeyError:
        raise TokenInvalid("the provider published no signing keys") from None
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise TokenInvalid(f"the provider's signing keys (JWKS) are unreadable: {error}") from None
    if not keys.keys:
        raise TokenInvalid("the provider published no signing keys")
    return keys


def _verified(token, keys):
    """The joserfc Token of ``token`` once a published RSA key verifies its RS256 signature.

    A token that names its key (``kid``) is checked with that key; one that does not (ADFS V3)
    with each published key in turn, as during a signing-key rollover the JWKS holds two.
    """
    if not isinstance(token, str) or token.count(".") != 2:
        raise TokenInvalid("the token is not a signed JWT")
    for key in keys.keys:
        if not isinstance(key, RSAKey):
            continue
        try:
            return jwt.decode(token, KeySet([key]), algorithms=ALLOWED_ALGORITHMS)
        except (BadSignatureError, InvalidKeyIdError):
            continue  # another key's token, or not this key's signature
        except UnsupportedAlgorithmError:
            raise TokenInvalid("the token signature is not valid (only RS256 is accepted)") from None
        except (JoseError, ValueError, TypeError) as error:
            raise TokenInvalid(f"the token cannot be verified: {error}") from None
    raise TokenInvalid("the token signature is not valid")


def _check(validate):
    try:
        validate()
    except ExpiredTokenError:
        raise TokenInvalid("the token has expired") from None
    except ClaimError as error:
        names = error.claim.split(",")  # MissingClaimError names every missing claim
        known = [name for name in CLAIM_REASONS if name in names]
        if known:
            raise TokenInvalid(CLAIM_REASONS[known[0]]) from None
        verb = "lacks" if isinstance(error, MissingClaimError) else "has an invalid"
        raise TokenInvalid(f"the token {verb} “{error.claim}” claim") from None


def _options(issuers, audiences):
    if not issuers or not audiences:
        # An empty list would make joserfc accept any value.
        raise TokenInvalid("no issuer or audience is configured to check the token against")
    return {
        "iss": {"essential": True, "values": list(issuers)},
        "aud": {"essential": True, "values": list(audiences)},
        "exp": {"essential": True},
    }


def validate_access_token(token, keys, *, issuers, audiences):
    """The claims of the access token ``token`` (a JWT) if it is valid, else TokenInvalid."""
    verified = _verified(token, keys)
    registry = jwt.JWTClaimsRegistry(leeway=LEEWAY_SECONDS, **_options(issuers, audiences))
    _check(lambda: registry.validate(verified.claims))
    return verified.claims


def validate_id_token(token, keys, *, issuers, client_id, nonce, access_token=None):
    """The claims of the ID token ``token`` for ``client_id`` and this sign-in's ``nonce``, else
    TokenInvalid. With ``access_token``, an ``at_hash`` claim must match it."""
    verified = _verified(token, keys)
    params = {"nonce": nonce, "client_id": client_id}
    if isinstance(access_token, str):
        params["access_token"] = access_token
    claims = CodeIDToken(verified.claims, verified.header, _options(issuers, [client_id]), params)
    _check(lambda: claims.validate(leeway=LEEWAY_SECONDS))
    return verified.claims
