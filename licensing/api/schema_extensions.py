"""What drf-spectacular cannot see in the views: the API's OAuth2 authentication, the token
endpoint (``accounts.oauth_views``, not a DRF view), the ``/backend`` prefix, and the body
content types the API really reads.

``OAuth2Scheme`` describes ``BearerTokenAuthentication`` as OAuth2 with the two flows the
embedded server grants (client credentials, password), once per token URL (``/oauth/token``
and ``/backend/oauth/token``; either token works at either API prefix). ``postprocess`` (a
``POSTPROCESSING_HOOKS`` entry) adds the token endpoint at both paths, every operation again
under ``/backend/api/v1`` (operation ids ending ``_backend``), and says what a request body
may be: a JSON object, sent as ``application/json`` or under the form content type.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

TOKEN_PATHS = {"oauth2": "/oauth/token", "oauth2Backend": "/backend/oauth/token"}
API_PREFIX, BACKEND_PREFIX = "/api/v1/", "/backend/api/v1/"
FORM = "application/x-www-form-urlencoded"


def _flows(token_url):
    return {
        "clientCredentials": {"tokenUrl": token_url, "scopes": {}},
        "password": {"tokenUrl": token_url, "scopes": {}},
    }


class OAuth2Scheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api_auth.BearerTokenAuthentication"
    name = list(TOKEN_PATHS)

    def get_security_requirement(self, auto_schema):
        return [{name: []} for name in TOKEN_PATHS]  # either scheme: a token from either path

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "oauth2",
                "description": f"An access token from POST {path} (client_credentials or password grant), "
                "sent as Authorization: Bearer <token>. Without a valid token, with the API Console "
                'off, or with too few rights: 403 {"status": "ERROR", "statusMessage": "Access Restricted"} '
                "(never 401).",
                "flows": _flows(path),
            }
            for path in TOKEN_PATHS.values()
        ]


def _token_operation(path, operation_id):
    parameters = {
        "type": "object",
        "properties": {
            "grant_type": {"type": "string", "enum": ["client_credentials", "password"]},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string"},
            "username": {"type": "string", "description": "password grant only"},
            "password": {"type": "string", "description": "password grant only"},
        },
        "required": ["grant_type"],
    }
    oauth_error = {
        "type": "object",
        "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
        "required": ["error"],
    }

    def error(text):
        return {"description": text, "content": {"application/json": {"schema": oauth_error}}}

    return {
        "operationId": operation_id,
        "summary": "Get an access token (the embedded OAuth2 server)",
        "description": "RFC 6749 token request: a form body, or the same parameters as a JSON object (under "
        "application/json or under the form content type). Client credentials in the body or by HTTP "
        "Basic. Tokens live one hour; there are no refresh tokens.",
        "tags": ["oauth"],
        "security": [],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": parameters}, FORM: {"schema": parameters}},
        },
        "responses": {
            "200": {
                "description": "The access token",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "access_token": {"type": "string"},
                                "token_type": {"type": "string", "enum": ["Bearer"]},
                                "expires_in": {"type": "integer"},
                                "scope": {"type": "string"},
                            },
                            "required": ["access_token", "token_type", "expires_in"],
                        }
                    }
                },
            },
            "400": error("invalid_request, invalid_grant (wrong credentials, a refused sign-in), unauthorized_client"),
            "401": error("invalid_client: unknown client, wrong secret, expired grant"),
            "403": error("access_denied: the API Console is disabled"),
            "413": error("the body is too large"),
            "429": error("rate_limited: too many failed requests (Retry-After)"),
        },
    }


def _body_content(operation):
    """A request body is a JSON object: as ``application/json``, or the same object under the
    form content type (what ``curl -d '{...}'`` sends); a real form body is 415."""
    body = operation.get("requestBody")
    if not body:
        return
    content = body["content"]
    json_body = content.get("application/json")
    if json_body is None:
        return
    body["content"] = {
        "application/json": json_body,
        FORM: {
            "schema": {
                "type": "string",
                "description": "The same JSON object, sent under the form content type (curl -d without "
                "-H 'Content-Type: application/json'). A real form body (limit=5) is 415.",
            }
        },
    }


def postprocess(result, generator, request, public):
    paths = result.get("paths", {})
    for methods in paths.values():
        for operation in methods.values():
            _body_content(operation)
    for path in [p for p in paths if p.startswith(API_PREFIX)]:
        backend = {}
        for method, operation in paths[path].items():
            backend[method] = {**operation, "operationId": f"{operation['operationId']}_backend"}
        paths[BACKEND_PREFIX + path[len(API_PREFIX) :]] = backend
    paths["/oauth/token"] = {"post": _token_operation("/oauth/token", "oauth_token")}
    paths["/backend/oauth/token"] = {"post": _token_operation("/backend/oauth/token", "oauth_token_backend")}
    return result
