"""Validating the JWTs an identity provider returns: signature against the provider's JWKS
(RS256 only; "none" and HMAC algorithms are refused, so a token cannot be forged with a public
key as the secret), then issuer, audience, expiry, not-before and, for ID tokens, the nonce."""
import hmac
import json
import time

from jwcrypto import jwk, jws, jwt
from jwcrypto.common import JWException

ALLOWED_ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 60  # clock skew between this server and the identity provider


class TokenInvalid(Exception):
    """The token failed validation; the message says why (never the token itself)."""


def load_jwks(document):
    """A JWKSet from the provider's JWKS document (a dict or JSON text)."""
    try:
        text = document if isinstance(document, str) else json.dumps(document)
        keys = jwk.JWKSet.from_json(text)
    except (JWException, ValueError, TypeError) as error:
        raise TokenInvalid(f"the provider's signing keys (JWKS) are unreadable: {error}") from None
    if not len(keys["keys"]):
        raise TokenInvalid("the provider published no signing keys")
    return keys


def validate(token, keys, *, issuers, audiences, nonce=None, now=None):
    """The claims of ``token`` if it is valid, else TokenInvalid.

    ``issuers`` and ``audiences`` are the accepted values (any one must match); ``nonce``, when
    given, must equal the token's ``nonce`` claim.
    """
    if not isinstance(token, str) or token.count(".") != 2:
        raise TokenInvalid("the token is not a signed JWT")
    try:
        parsed = jwt.JWT(jwt=token, key=keys, algs=ALLOWED_ALGORITHMS, check_claims=False, expected_type="JWS")
    except (JWException, ValueError, TypeError, KeyError) as error:
        # With a key set, jwcrypto reports a signature no published key verifies as a missing key.
        if isinstance(error, (jws.InvalidJWSSignature, jwt.JWTMissingKey)) or "signature" in str(error).lower():
            raise TokenInvalid("the token signature is not valid") from None
        raise TokenInvalid(f"the token cannot be verified: {error}") from None
    try:
        claims = json.loads(parsed.claims)
    except ValueError:
        raise TokenInvalid("the token claims are not JSON") from None
    if not isinstance(claims, dict):
        raise TokenInvalid("the token claims are not a JSON object")
    now = time.time() if now is None else now

    if claims.get("iss") not in issuers:
        raise TokenInvalid("the token was issued by an unexpected issuer")
    audience = claims.get("aud")
    token_audiences = audience if isinstance(audience, list) else [audience]
    if not any(isinstance(aud, str) and aud in audiences for aud in token_audiences):
        raise TokenInvalid("the token is meant for another audience")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise TokenInvalid("the token has no expiry")
    if exp < now - LEEWAY_SECONDS:
        raise TokenInvalid("the token has expired")
    nbf = claims.get("nbf")
    if isinstance(nbf, (int, float)) and nbf > now + LEEWAY_SECONDS:
        raise TokenInvalid("the token is not valid yet")
    if nonce is not None:
        token_nonce = claims.get("nonce")
        if not isinstance(token_nonce, str) or not hmac.compare_digest(token_nonce.encode(), nonce.encode()):
            raise TokenInvalid("the token's nonce does not match this sign-in")
    return claims
