"""The embedded OAuth2 server's rules for API grants (django-oauth-toolkit hooks).

DOT authenticates the client (client id + hashed secret, constant-time). The password grant's
user passes the sign-in policy of the login form (``accounts.services.login_policy``: lock,
credentials through the backend of the user's source, disabled users, password expiry, the
first-login wizard). On top of that an OAuth application is only a credential while it belongs
to an API grant that has not expired.
"""

from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2 import Server
from oauthlib.oauth2.rfc6749 import errors

from .api_clients import ApiGrant
from .services import login_policy


class ApiGrantValidator(OAuth2Validator):
    def _load_application(self, client_id, request):
        client = super()._load_application(client_id, request)
        if client is None:
            return None
        if not hasattr(client, "_onprem_grant"):
            client._onprem_grant = ApiGrant.objects.filter(application=client).first()
        grant = client._onprem_grant
        if grant is None or grant.is_expired():
            request.client = None  # not cached: an expired grant must fail every later check too
            return None
        return client

    def validate_user(self, username, password, client, request, *args, **kwargs):
        # The password grant is a sign-in like the login form's, under the same rules; a refusal
        # is oauthlib's invalid_grant with the reason as the form would give it.
        verdict = login_policy.check(self.build_http_request(request), username, password, web=False)
        if not verdict.allowed:
            raise errors.InvalidGrantError(description=verdict.message, request=request)
        request.user = verdict.user
        return True


class ApiTokenServer(Server):
    """oauthlib's server, issuing no refresh tokens: an API token lives one hour, then the
    client asks again (the guide: "This token expires within one hour of creation")."""

    def __init__(self, request_validator, *args, **kwargs):
        super().__init__(request_validator, *args, **kwargs)
        self.password_grant.refresh_token = False
