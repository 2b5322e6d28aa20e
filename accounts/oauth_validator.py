"""The embedded OAuth2 server's rules for API grants (django-oauth-toolkit hooks).

DOT authenticates the client (client id + hashed secret, constant-time) and, for the
password grant, the user through Django's ``authenticate()`` (local, LDAP, ... backends,
inactive users refused). On top of that an OAuth application is only a credential while it
belongs to an API grant that has not expired.
"""
from oauthlib.oauth2 import Server
from oauth2_provider.oauth2_validators import OAuth2Validator

from .api_clients import ApiGrant
from .services import lockout


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
        # The password grant is a login like any other: the Security widget's auto lock refuses
        # a locked user before the password is tried, and counts every failure.
        if lockout.check_before_login(username):
            return False
        valid = super().validate_user(username, password, client, request, *args, **kwargs)
        if valid:
            lockout.login_succeeded(request.user)
        else:
            lockout.login_failed(username)
        return valid


class ApiTokenServer(Server):
    """oauthlib's server, issuing no refresh tokens: an API token lives one hour, then the
    client asks again (the guide: "This token expires within one hour of creation")."""

    def __init__(self, request_validator, *args, **kwargs):
        super().__init__(request_validator, *args, **kwargs)
        self.password_grant.refresh_token = False
