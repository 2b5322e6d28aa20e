"""The authorization-code flow with an identity provider, start to finish.

``begin`` stores a fresh state, nonce and PKCE verifier in the session and returns the
provider's authorization URL (built by authlib's OAuth2Session, ``provider.client``);
``complete`` checks the returned state (constant time, once only, within 10 minutes), trades the
code for tokens with the verifier, validates the tokens (``tokens``), and finds or creates the
user the claims describe.
"""

import hmac
import logging
import secrets
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction

from core import events

from ..roles import SystemRole
from ..services import last_admin
from . import provider, tokens

logger = logging.getLogger(__name__)

SESSION_KEY = "onprem_oidc_flow"
FLOW_MAX_AGE = 600

# The guide's A.4: the values of the outgoing "Role" claim that map to system roles.
ROLE_CLAIM_VALUES = {
    "ONPREM-SYSADMIN": SystemRole.ADMIN,
    "ONPREM-SYSOP": SystemRole.OPERATOR,
    "ONPREM-SYSUSER": SystemRole.USER,
}
ROLE_RANK = [SystemRole.USER, SystemRole.OPERATOR, SystemRole.ADMIN]
ROLE_CLAIMS = ("role", "roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "groups")
USERNAME_CLAIMS = ("upn", "unique_name", "preferred_username", "email", "sub")


class SignInFailed(Exception):
    """The external sign-in did not succeed; the message is safe to show and to log."""


def begin(request, config, redirect_uri, next_url=""):
    """The URL of the provider's sign-in page for this browser."""
    endpoints = provider.endpoints(config)
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    request.session[SESSION_KEY] = {
        "kind": config.kind,
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "redirect_uri": redirect_uri,
        "next": next_url,
        "started": time.time(),
    }
    extra = {}
    if endpoints.uses_id_token:
        extra["nonce"] = nonce
    if config.kind == "adfs" and config.resource_name:
        extra["resource"] = config.resource_name
    with provider.client(config, redirect_uri, endpoints.scope) as session:
        url, _state = session.create_authorization_url(
            endpoints.authorization, state=state, code_verifier=verifier, **extra
        )
    return url


def complete(request, config, params):
    """The user signed in by the provider's callback ``params`` (request.GET); SignInFailed else."""
    flow = request.session.pop(SESSION_KEY, None)  # one use only, whatever happens next
    if not flow or flow.get("kind") != config.kind:
        raise SignInFailed("the sign-in was not started from this browser (or was already used)")
    if time.time() - flow.get("started", 0) > FLOW_MAX_AGE:
        raise SignInFailed("the sign-in took longer than 10 minutes; start again")
    state = params.get("state", "")
    if not state or not hmac.compare_digest(state.encode(), flow["state"].encode()):
        raise SignInFailed("the state parameter does not match this sign-in")
    if params.get("error"):
        raise SignInFailed(f"the identity provider refused the sign-in ({params.get('error')[:100]})")
    code = params.get("code", "")
    if not code:
        raise SignInFailed("the identity provider returned no authorization code")
    try:
        endpoints = provider.endpoints(config)
        body = provider.exchange_code(
            config, endpoints.token, code=code, redirect_uri=flow["redirect_uri"], code_verifier=flow["verifier"]
        )
        keys = tokens.load_jwks(provider.http_get_json(endpoints.jwks))
        claims = _claims(config, endpoints, keys, body, flow["nonce"])
    except (provider.ProviderError, tokens.TokenInvalid) as error:
        raise SignInFailed(str(error)) from None
    return user_for_claims(config, claims), flow.get("next", "")


def _claims(config, endpoints, keys, body, nonce):
    claims = {}
    roles = []
    if endpoints.uses_access_token:
        access_token = body.get("access_token")
        if endpoints.uses_id_token and not _looks_like_jwt(access_token):
            access_token = None  # an opaque access token: the ID token carries the claims
        elif not _looks_like_jwt(access_token):
            raise tokens.TokenInvalid("the identity provider returned no access token")
        if access_token:
            access = tokens.validate_access_token(
                access_token,
                keys,
                issuers=endpoints.access_token_issuers,
                audiences=provider.access_token_audiences(config),
            )
            claims.update(access)
            roles += _role_values(access)
    if endpoints.uses_id_token:
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise tokens.TokenInvalid("the identity provider returned no ID token")
        identity = tokens.validate_id_token(
            id_token,
            keys,
            issuers=endpoints.id_token_issuers,
            client_id=config.client_id,
            nonce=nonce,
            access_token=body.get("access_token"),
        )
        claims.update(identity)
        roles += _role_values(identity)
    claims["_onprem_roles"] = roles
    return claims


def _looks_like_jwt(value):
    return isinstance(value, str) and value.count(".") == 2


def _role_values(claims):
    values = []
    for name in ROLE_CLAIMS:
        value = claims.get(name)
        if isinstance(value, str):
            values.append(value)
        elif isinstance(value, list):
            values += [item for item in value if isinstance(item, str)]
    return values


def system_role_from(role_values):
    """The highest system role the ONPREM-* claim values name (System User if none)."""
    found = {
        ROLE_CLAIM_VALUES[value.strip().upper()] for value in role_values if value.strip().upper() in ROLE_CLAIM_VALUES
    }
    return max(found, key=ROLE_RANK.index) if found else SystemRole.USER


def username_from(claims):
    for name in USERNAME_CLAIMS:
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            username = value.strip()
            try:
                UnicodeUsernameValidator()(username)
            except ValidationError:
                continue
            if len(username) <= 150:
                return username
    raise SignInFailed("the tokens name no usable user name (upn, unique_name, preferred_username, email or sub)")


@transaction.atomic
def user_for_claims(config, claims):
    """Find or create the user of ``config.kind``'s source; set the system role from the claims."""
    User = get_user_model()
    source = User.Source.ADFS if config.kind == "adfs" else User.Source.SSO
    username = username_from(claims)
    takes_roles = config.kind == "sso" or config.import_claims
    role = system_role_from(claims.get("_onprem_roles", []))
    # When the claims may change the role, lock the enabled System Admins first (in the order every
    # such change locks them) and learn whether this user is the last one.
    is_last_admin = False
    if takes_roles:
        existing = User.objects.filter(username__iexact=username, source=source).first()
        if existing is not None:
            is_last_admin = last_admin.lock(existing)
    user = User.objects.select_for_update().filter(username__iexact=username).first()
    if user is None:
        user = User(
            username=username,
            source=source,
            needs_first_login_wizard=False,
            system_role=role if takes_roles else SystemRole.USER,
        )
        user.set_unusable_password()
    elif user.source != source:
        # Never let an external identity take over a local (or other-source) user of the same name.
        raise SignInFailed(f"a user named “{username}” exists and does not sign in through {config.get_kind_display()}")
    elif not user.is_active:
        raise SignInFailed(f"the user “{username}” is disabled")
    created = user.pk is None
    for field, claim in (("email", "email"), ("first_name", "given_name"), ("last_name", "family_name")):
        value = claims.get(claim)
        if isinstance(value, str):
            setattr(user, field, value[: 254 if field == "email" else 150])
    role_changed = not created and takes_roles and user.system_role != role
    if role_changed and is_last_admin:
        # The directory would leave no enabled System Admin: keep this one, and say so.
        logger.warning(
            "Kept %s a System Admin: the role claims name %s, and no other System Admin is enabled.",
            user.username,
            SystemRole(role).label,
        )
        events.record("user.last_admin_kept", user_name=user.username, role_name=SystemRole(role).label)
        role_changed = False
    if role_changed:
        user.system_role = role
    user.save()
    if created:
        events.record("user.added", user_name=user.username)
    elif role_changed:
        events.record(
            "user.system_role_changed",
            notify=[user],
            user_name=user.username,
            role_name=SystemRole(user.system_role).label,
        )
    return user
