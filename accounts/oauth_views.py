"""``POST /oauth/token``: the embedded OAuth2 server's token endpoint (guide "API Call for Access Tokens").

django-oauth-toolkit issues the tokens; this wrapper adds what the product needs around it:
JSON bodies as well as form bodies (the guide's curl example posts JSON; a JSON object sent
under the form content type is read as JSON too), the API Console
gate, a rate limit per client IP / client id / username (429 with Retry-After), and an event
for every issued token and every refusal (never with a secret in it).
"""

import base64
import hashlib
import json
from urllib.parse import unquote_plus

from django.db import transaction
from django.http import JsonResponse
from oauth2_provider.models import get_access_token_model
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.views import TokenView

from accounts.api_clients import ApiGrant, api_console_enabled
from accounts.services import ratelimit
from core import events, limits
from core.limits import RequestLimit

MAX_BODY_BYTES = 16 * 1024


class FormOrJsonOAuthLibCore(OAuthLibCore):
    """Reads the token request's parameters from a JSON object or a form body alike."""

    def extract_body(self, request):
        params = getattr(request, "onprem_json_params", None)
        if params is not None:
            return list(params.items())
        return super().extract_body(request)


def _oauth_error(status, error, description, **headers):
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _is_json_body(request):
    """A JSON body: declared so, or a JSON object under the form content type, which is what
    ``curl -d '{...}'`` sends without ``-H 'Content-Type: application/json'`` (no form body starts
    with a brace: a form key would have to be percent-encoded to hold one)."""
    if request.content_type == "application/json":
        return True
    return request.content_type == "application/x-www-form-urlencoded" and request.body.lstrip().startswith(b"{")


def _json_params(request):
    """The JSON body as a flat dict of strings, or raise ValueError with what is wrong."""
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ValueError("The request body must be a JSON object.")
    params = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError(f"The parameter “{key}” must be a string.")
        params[key] = str(value)
    return params


def _basic_auth_client_id(request):
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""
    return unquote_plus(decoded.partition(":")[0])


class ApiTokenView(TokenView):
    oauthlib_backend_class = FormOrJsonOAuthLibCore
    request_limit = RequestLimit(
        limits.setting("ONPREM_MAX_TOKEN_REQUEST_BYTES", 64 * limits.KIB), "token request", reply="oauth"
    )

    def post(self, request, *args, **kwargs):
        if len(request.body) > MAX_BODY_BYTES:
            return _oauth_error(400, "invalid_request", "The request body is too large.")
        if _is_json_body(request):
            try:
                request.onprem_json_params = _json_params(request)
            except ValueError as error:
                return _oauth_error(400, "invalid_request", str(error))
            params = request.onprem_json_params
        else:
            params = request.POST
        client_id = (params.get("client_id") or _basic_auth_client_id(request))[:100]
        grant_type = (params.get("grant_type") or "")[:40]
        username = (params.get("username") or "")[:150] if grant_type == "password" else ""
        ip = ratelimit.client_ip(request)

        keys = (f"client:{client_id}" if client_id else "", f"user:{ratelimit.normalise(username)}" if username else "")
        verdict = ratelimit.check("token", request, *keys)
        if not verdict.allowed:
            events.record("api.token_rate_limited", ip=ip, client_id=client_id)
            return _oauth_error(
                429, "rate_limited", "Too many token requests; try again later.", Retry_After=str(verdict.retry_after)
            )
        if not api_console_enabled():
            _failed(ip, client_id, grant_type, username, "the API Console is disabled")
            return _oauth_error(403, "access_denied", "The API Console is disabled.")

        response = super().post(request, *args, **kwargs)
        if response.status_code == 200:
            _issued(client_id, response)
        else:
            ratelimit.record_failure("token", request, *keys)
            _failed(ip, client_id, grant_type, username, _reason(response, client_id))
        return response


def _reason(response, client_id):
    try:
        error = json.loads(response.content).get("error", "")
    except ValueError:
        error = ""
    grant = ApiGrant.objects.filter(application__client_id=client_id).first() if client_id else None
    if error == "invalid_client" and grant is not None and grant.is_expired():
        return "the grant has expired"
    return {
        "invalid_client": "unknown client or wrong client secret",
        "invalid_grant": "wrong username or password, or the sign-in policy refused the user",
        "unauthorized_client": "the grant type is not allowed for this client",
        "unsupported_grant_type": "unsupported grant type",
        "invalid_request": "malformed request",
    }.get(error, error or f"HTTP {response.status_code}")


def _failed(ip, client_id, grant_type, username, reason):
    user_part = f", user “{username}”" if username else ""
    with transaction.atomic():
        events.record(
            "api.token_failed",
            ip=ip or "an unknown address",
            reason=reason,
            client_id=client_id,
            grant_type=grant_type,
            user_part=user_part,
        )


def _issued(client_id, response):
    token = json.loads(response.content).get("access_token", "")
    checksum = hashlib.sha256(token.encode()).hexdigest()
    access_token = (
        get_access_token_model()
        .objects.select_related("user", "application__api_grant")
        .filter(token_checksum=checksum)
        .first()
    )
    if access_token is None:
        return
    grant = access_token.application.api_grant
    who = f"the user “{access_token.user.username}”" if access_token.user else "the client itself"
    events.record(
        "api.token_issued",
        actor=access_token.user,
        client_id=client_id or access_token.application.client_id,
        grant_name=grant.name,
        who=who,
    )
