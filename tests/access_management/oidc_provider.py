"""A small, real OAuth2 / OpenID Connect provider for the tests (ADFS V3/V4 paths and plain OIDC).

Run as its own process: ``python oidc_provider.py PORT CLIENT_ID CLIENT_SECRET``; it prints
``READY`` once listening. It implements discovery, authorize (the "user" who signs in is set
beforehand through ``POST /_control``), the token endpoint (one-use codes, redirect URI, client
and PKCE S256 checks) and the JWKS, and signs RS256 tokens with ``cryptography`` alone, so the
server's validation is tested against an independent implementation. ``/_control`` can also
make the next tokens bad: a forged signature, another audience, expired, not yet valid, without
an expiry, an ID token without ``sub`` or with an ``at_hash`` of another access token, a wrong
nonce or issuer, ``alg: none``, or HS256 keyed with the provider's public key;
or sign them without a ``kid`` while the JWKS publishes two keys (as during a key rollover); or
answer the token request with HTTP 200 and an error, or with HTML.
"""

import base64
import hashlib
import hmac
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KID = "test-key-1"
# The client the tests register (imported by the tests; the process gets them on its command line).
CLIENT_ID = "onprem-test-client"
CLIENT_SECRET = "client-Secret-For-Tests-9"
RESOURCE = "urn:onprem:test"


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def int_b64(value):
    return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class Provider:
    def __init__(self, port, client_id, client_secret):
        self.base = f"http://127.0.0.1:{port}"
        self.client_id, self.client_secret = client_id, client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.codes = {}
        self.next_user = {
            "username": "adfs.user@corp.example",
            "roles": [],
            "email": "",
            "mode": "normal",
            "resource": "",
        }
        self.token_requests = []
        self.lock = threading.Lock()

    def sign(self, claims, key=None, alg="RS256", kid=KID):
        header = {"alg": alg, "typ": "JWT", **({"kid": kid} if kid else {})}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        if alg == "none":
            return signing_input + "."
        if alg == "HS256":
            # The classic forgery: the verifier's public key, which anyone can fetch, as an HMAC secret.
            public_pem = self.key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return f"{signing_input}.{b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())}"
        signature = (key or self.key).sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64(signature)}"

    def jwks(self):
        keys = [(KID, self.key)]
        if self.next_user["mode"] == "rollover_no_kid":
            keys.insert(0, ("retired-key", self.other_key))
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": kid,
                    "n": int_b64(key.public_key().public_numbers().n),
                    "e": int_b64(key.public_key().public_numbers().e),
                }
                for kid, key in keys
            ]
        }

    def discovery(self, prefix):
        issuer = self.base + prefix
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{self.base}{prefix}/oauth2/authorize",
            "token_endpoint": f"{self.base}{prefix}/oauth2/token",
            "jwks_uri": f"{self.base}{prefix}/discovery/keys",
            "access_token_issuer": f"http://127.0.0.1:{urlsplit(self.base).port}/adfs/services/trust",
            "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def tokens(self, grant, prefix):
        user, mode, now = grant["user"], grant["user"]["mode"], int(time.time())
        issuer = self.base + prefix
        claims = {"sub": "sub-" + user["username"], "upn": user["username"], "iat": now, "exp": now + 300}
        if user["roles"]:
            claims["role"] = user["roles"] if len(user["roles"]) > 1 else user["roles"][0]
        if user["email"]:
            claims["email"] = user["email"]
        id_claims = dict(claims, iss=issuer, aud=self.client_id, nonce=grant["nonce"])
        resource = grant["resource"] or user["resource"]
        access_claims = dict(
            claims, iss=self.discovery(prefix)["access_token_issuer"], aud=f"microsoft:identityserver:{resource}"
        )
        key, alg, kid = None, "RS256", KID
        if mode == "bad_signature":
            key = self.other_key
        elif mode == "wrong_aud":
            id_claims["aud"] = access_claims["aud"] = "someone-else"
        elif mode == "expired":
            id_claims["exp"] = access_claims["exp"] = now - 3600
        elif mode == "wrong_nonce":
            id_claims["nonce"] = "not-the-nonce"
        elif mode == "wrong_iss":
            id_claims["iss"] = access_claims["iss"] = "http://evil.example/adfs"
        elif mode == "not_yet_valid":
            id_claims["nbf"] = access_claims["nbf"] = now + 3600
        elif mode == "no_expiry":
            del id_claims["exp"], access_claims["exp"]
        elif mode == "no_sub":
            del id_claims["sub"]
        elif mode == "bad_at_hash":
            id_claims["at_hash"] = b64(hashlib.sha256(b"another access token").digest()[:16])
        elif mode == "alg_none":
            alg = "none"
        elif mode == "hs256_public_key":
            alg = "HS256"
        elif mode == "rollover_no_kid":
            kid = None
        return {
            "access_token": self.sign(access_claims, key, alg, kid),
            "token_type": "bearer",
            "expires_in": 300,
            "id_token": self.sign(id_claims, key, alg, kid),
        }


class Handler(BaseHTTPRequestHandler):
    provider = None

    def log_message(self, *args):
        pass

    def _json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _prefix(self, path):
        return "/adfs" if path.startswith("/adfs/") else ""

    def do_GET(self):
        parts = urlsplit(self.path)
        path, query = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
        prefix = self._prefix(path)
        if path.endswith("/.well-known/openid-configuration"):
            return self._json(200, self.provider.discovery(prefix))
        if path.endswith("/discovery/keys"):
            return self._json(200, self.provider.jwks())
        if path.endswith("/oauth2/authorize"):
            return self._authorize(query)
        if path == "/_control":
            with self.provider.lock:
                return self._json(200, {"token_requests": self.provider.token_requests})
        return self._json(404, {"error": "not_found"})

    def _authorize(self, query):
        p = self.provider
        if (
            query.get("client_id") != p.client_id
            or not query.get("redirect_uri")
            or query.get("response_type") != "code"
        ):
            return self._json(400, {"error": "invalid_request"})
        code = secrets.token_urlsafe(24)
        with p.lock:
            p.codes[code] = {
                "client_id": query["client_id"],
                "redirect_uri": query["redirect_uri"],
                "nonce": query.get("nonce", ""),
                "challenge": query.get("code_challenge", ""),
                "resource": query.get("resource", ""),
                "user": dict(p.next_user),
            }
        location = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
        self.send_response(302)
        self.send_header("Location", location)
        self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        parts = urlsplit(self.path)
        if parts.path == "/_control":
            with self.provider.lock:
                self.provider.next_user.update(json.loads(raw))
            return self._json(200, {"ok": True})
        if parts.path.endswith("/oauth2/token"):
            return self._token({k: v[0] for k, v in parse_qs(raw).items()}, self._prefix(parts.path))
        return self._json(404, {"error": "not_found"})

    def _token(self, form, prefix):
        p = self.provider
        with p.lock:
            p.token_requests.append(sorted(form))
            grant = p.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("grant_type") != "authorization_code":
            return self._json(400, {"error": "invalid_grant"})
        if form.get("client_id") != grant["client_id"] or form.get("redirect_uri") != grant["redirect_uri"]:
            return self._json(400, {"error": "invalid_grant"})
        if p.client_secret and not hmac.compare_digest(form.get("client_secret", ""), p.client_secret):
            return self._json(401, {"error": "invalid_client"})
        verifier = form.get("code_verifier", "")
        if not grant["challenge"] or b64(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return self._json(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
        if grant["user"]["mode"] == "token_error_in_200":
            return self._json(200, {"error": "server_error"})
        if grant["user"]["mode"] == "token_not_json":
            body = b"<p>not JSON</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        return self._json(200, p.tokens(grant, prefix))


def main():
    port, client_id, client_secret = int(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ""
    Handler.provider = Provider(port, client_id, client_secret)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
