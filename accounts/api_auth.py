"""Who is calling the REST API: Bearer tokens of the embedded OAuth2 server, and the API gates.

Every ``/api/v1`` view gets these through ``REST_FRAMEWORK`` in the settings:

- ``BearerTokenAuthentication`` turns ``Authorization: Bearer <token>`` into an ``ApiCaller``
  (``request.user``) whose ``principal`` is what ``accounts.rbac.can`` asks: the user's own
  Principal for a Resource Owner (password) grant, an ``ApiGrantPrincipal`` for a Client
  Credentials grant.
- ``ApiConsoleEnabled`` closes the API while the API Console toggle is off.
- ``IsApiCaller`` lets only Bearer-token callers in.

Refusals are 403 with the guide's body, never 401: clients probe liveness with a 403
(the guide: without credentials "your application will receive a 403 Access Restricted error").
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.utils.functional import cached_property
from oauth2_provider.oauth2_backends import OAuthLibCore
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from .api_clients import ApiGrant, api_console_enabled
from .rbac import ApiGrantPrincipal, Principal

ACCESS_RESTRICTED = "Access Restricted"


class ApiCaller:
    """``request.user`` of an API call: the holder of a valid access token.

    ``user`` is the person for Resource Owner (password) tokens, else None; ``grant`` is the
    API grant for Client Credentials tokens, else None. Pass ``caller.actor`` to services and
    events (the User when there is one); passing the ApiCaller itself also works, as a caller
    without a user row (``pk`` None, ``username`` names it).
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, *, principal, user=None, grant=None, access_token=None):
        self.principal = principal
        self.user = user
        self.grant = grant
        self.access_token = access_token

    pk = id = None  # not a User row: never stored in a user foreign key

    @cached_property
    def username(self):
        if self.user is not None:
            return self.user.username
        return f"API client {self.grant.name}"

    @property
    def actor(self):
        """What to pass as ``record(actor=...)``: the User when there is one."""
        return self.user if self.user is not None else self

    @property
    def system_role(self):
        return self.principal.system_role

    def __str__(self):
        return self.username


def _bearer_token(request):
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


class HeaderTokenOAuthLibCore(OAuthLibCore):
    """Checks the ``Authorization: Bearer`` header and nothing else of the request.

    DOT's core hands oauthlib the form body too (``request.POST``), where RFC 6750 allows a token
    as well. Here the body is the API call's own: under DRF it is already parsed by the view's
    parsers (a JSON object under the form content type is a dict, not a QueryDict), and an
    ``access_token`` in a body is no credential of this API, which reads the header only.
    """

    def extract_body(self, request):
        return []


class BearerTokenAuthentication(BaseAuthentication):
    """Validate a django-oauth-toolkit access token; returns ``(ApiCaller, AccessToken)``.

    No Bearer header: not this scheme (``None``), the permissions then refuse with 403.
    A Bearer header whose token is unknown, expired, from an expired grant or of a disabled
    user: ``AuthenticationFailed``, which the exception handler turns into 403.
    """

    def authenticate(self, request):
        token = _bearer_token(request)
        if token is None:
            return None
        if not token:
            raise exceptions.AuthenticationFailed(ACCESS_RESTRICTED)
        valid, oauth_request = HeaderTokenOAuthLibCore().verify_request(request, scopes=[])
        if not valid:
            raise exceptions.AuthenticationFailed(ACCESS_RESTRICTED)
        access_token = oauth_request.access_token
        caller = caller_for_token(access_token)
        if caller is None:
            raise exceptions.AuthenticationFailed(ACCESS_RESTRICTED)
        return caller, access_token

    def authenticate_header(self, request):
        # No WWW-Authenticate challenge: DRF then answers a failed authentication with 403.
        return None


def caller_for_token(access_token):
    """The ApiCaller a valid access token stands for, or None when its grant no longer allows it."""
    try:
        grant = ApiGrant.objects.get(application_id=access_token.application_id)
    except ApiGrant.DoesNotExist:
        return None  # a token of some other OAuth application is no API credential
    if grant.is_expired():
        return None
    if grant.grant_type == ApiGrant.GrantType.PASSWORD:
        user = access_token.user
        if user is None or not user.is_active:
            return None
        return ApiCaller(principal=Principal(user), user=user, access_token=access_token)
    return ApiCaller(principal=ApiGrantPrincipal(grant), grant=grant, access_token=access_token)


class IsApiCaller(BasePermission):
    """Only Bearer-token callers (an ``ApiCaller``) may use the API."""

    message = ACCESS_RESTRICTED

    def has_permission(self, request, view):
        return isinstance(request.user, ApiCaller)


class ApiConsoleEnabled(BasePermission):
    """The guide: the API Console must be enabled "to subsequently use API calls"."""

    message = ACCESS_RESTRICTED

    def has_permission(self, request, view):
        return api_console_enabled()


def error_text(detail):
    """One sentence from a DRF error detail (a string, or nested lists and dicts of them)."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            text = error_text(value)
            return text if field in ("non_field_errors", "detail") else f"{field}: {text}"
        return ""
    if isinstance(detail, (list, tuple)):
        return error_text(detail[0]) if detail else ""
    return str(detail)


def api_exception_handler(exc, context):
    """DRF's handler, with every error in the API's body ``{"status": "ERROR", "statusMessage": ...}``.

    Unauthenticated and invalid-token requests become 403 (never 401). Every other error DRF
    knows keeps its status (404, 405, 406, 415, 429, ...) and gets the same body shape, never
    DRF's ``{"detail": ...}``; views that build their own bodies (the guide's messages) are
    untouched. Errors outside DRF (no URL matched, a crash) are ``core.error_views``'s.
    """
    # Imported here: rest_framework.views reads these very settings at import time.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        exc = exceptions.PermissionDenied(ACCESS_RESTRICTED)
    elif isinstance(exc, DjangoPermissionDenied):  # e.g. a service's NotAllowed
        exc = exceptions.PermissionDenied(str(exc) or ACCESS_RESTRICTED)
    response = drf_exception_handler(exc, context)
    if response is not None:
        detail = getattr(exc, "detail", None)
        response.data = {"status": "ERROR", "statusMessage": error_text(detail) if detail else response.status_text}
    return response
