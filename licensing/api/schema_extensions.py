"""Teaches drf-spectacular the API's authentication: a Bearer token from ``POST /oauth/token``."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api_auth.BearerTokenAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An access token from POST /oauth/token (client_credentials or password grant).",
        }
