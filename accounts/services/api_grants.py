"""The API Toolkit's changes: the API Console toggle, grants, secrets, API access control.

Called alike by the widget, the ``api_console`` / ``api_client`` commands and the tests.
``actor`` None means the command line (the operator at the server's shell); otherwise RBAC
is asked (``TOGGLE_API_CONSOLE`` for the toggle, ``MANAGE_API_GRANTS`` for the rest).

A grant's client secret is returned once, by ``create_grant`` and ``regenerate_secret``;
django-oauth-toolkit stores only its hash, so nobody can show it again.
"""

from django.db import IntegrityError, transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from core import events
from core.errors import NotAllowed, ServiceError

from ..api_clients import ApiAccessEntry, ApiConsole, ApiGrant, api_console_enabled
from ..rbac import Action, can
from ..roles import ACCOUNT_WIDE_ROLES, VIRTUAL_ACCOUNT_ROLES, AccountRole

_DOT_GRANT_TYPES = {
    ApiGrant.GrantType.CLIENT_CREDENTIALS: "client-credentials",
    ApiGrant.GrantType.PASSWORD: "password",
}


def _check(actor, action, message):
    if actor is not None and not can(actor, action):
        raise NotAllowed(message)


@transaction.atomic
def set_api_console(*, actor, enabled):
    """Turn the API Console on or off (System Admin only). Returns True when it changed."""
    _check(actor, Action.TOGGLE_API_CONSOLE, "Only a System Admin may enable or disable the API Console.")
    console, _ = ApiConsole.objects.select_for_update().get_or_create(pk=1)
    if console.enabled == enabled:
        return False
    console.enabled = enabled
    console.save(update_fields=["enabled", "updated_at"])
    events.record("api.console_enabled" if enabled else "api.console_disabled", actor=actor)
    return True


def _clean_name(name):
    name = (name or "").strip()
    if not name:
        raise ServiceError("Enter a name for the grant.", field="name")
    if len(name) > 100:
        raise ServiceError("The name can have at most 100 characters.", field="name")
    return name


def _labels(grant):
    return {"grant_type": grant.get_grant_type_display(), "grant_name": grant.name}


@transaction.atomic
def create_grant(*, actor, grant_type, name, description="", expires_at=None):
    """Create a Client Credentials or Resource Owner grant; returns ``(grant, client_secret)``."""
    _check(actor, Action.MANAGE_API_GRANTS, "You are not allowed to create API grants.")
    if not api_console_enabled():
        raise ServiceError("Enable the API Console before creating grants.")
    if grant_type not in ApiGrant.GrantType.values:
        raise ServiceError(f"“{grant_type}” is not a grant type.", field="grant_type")
    name = _clean_name(name)
    if ApiGrant.objects.filter(name=name).exists():
        raise ServiceError(f"A grant named “{name}” already exists.", field="name")
    secret = generate_client_secret()
    application = get_application_model()(
        name=name,
        client_type="confidential",
        authorization_grant_type=_DOT_GRANT_TYPES[ApiGrant.GrantType(grant_type)],
        client_secret=secret,  # hashed by DOT's ClientSecretField on save
        hash_client_secret=True,
        redirect_uris="",
    )
    application.save()
    try:
        with transaction.atomic():
            grant = ApiGrant.objects.create(
                application=application,
                grant_type=grant_type,
                name=name,
                description=(description or "").strip()[:255],
                expires_at=expires_at,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:
        raise ServiceError(f"A grant named “{name}” already exists.", field="name") from None
    events.record("api.grant_created", actor=actor, **_labels(grant))
    return grant, secret


@transaction.atomic
def update_grant(*, actor, grant, name, description="", expires_at=None):
    _check(actor, Action.MANAGE_API_GRANTS, "You are not allowed to change API grants.")
    name = _clean_name(name)
    if ApiGrant.objects.filter(name=name).exclude(pk=grant.pk).exists():
        raise ServiceError(f"A grant named “{name}” already exists.", field="name")
    grant.name, grant.description, grant.expires_at = name, (description or "").strip()[:255], expires_at
    grant.save(update_fields=["name", "description", "expires_at"])
    application = grant.application
    application.name = name
    application.save(update_fields=["name", "updated"])
    events.record("api.grant_updated", actor=actor, **_labels(grant))
    return grant


@transaction.atomic
def regenerate_secret(*, actor, grant):
    """A new client secret (returned once); the old one and every token issued with it stop working."""
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model

    _check(actor, Action.MANAGE_API_GRANTS, "You are not allowed to change API grants.")
    secret = generate_client_secret()
    application = grant.application
    application.client_secret = secret
    application.save(update_fields=["client_secret", "updated"])
    get_access_token_model().objects.filter(application=application).delete()
    grant.secret_regenerated_at = timezone.now()
    grant.save(update_fields=["secret_regenerated_at"])
    events.record("api.secret_regenerated", actor=actor, **_labels(grant))
    return secret


@transaction.atomic
def revoke_user_tokens(user):
    """End every OAuth2 token issued to ``user`` (their password changed: a token got with the
    old password must not outlive it). Access tokens are deleted; refresh tokens are marked
    revoked, as DOT's own ``RefreshToken.revoke()`` does, so a replayed one is recognised.
    Returns how many tokens stopped working."""
    from django.utils import timezone
    from oauth2_provider.models import (
        get_access_token_model,
        get_id_token_model,
        get_refresh_token_model,
    )

    if user is None or user.pk is None:
        return 0
    now = timezone.now()  # ``updated`` is auto_now, which a queryset update does not set
    refresh = (
        get_refresh_token_model()
        .objects.filter(user=user, revoked__isnull=True)
        .update(revoked=now, updated=now, access_token=None)
    )
    access, _by_model = get_access_token_model().objects.filter(user=user).delete()
    get_id_token_model().objects.filter(user=user).delete()
    if access or refresh:
        events.record("security.api_tokens_revoked", actor=None, user_name=user.username, count=access + refresh)
    return access + refresh


@transaction.atomic
def delete_grant(*, actor, grant):
    """Delete a grant: its OAuth application, access tokens and access-control entries go with it."""
    _check(actor, Action.MANAGE_API_GRANTS, "You are not allowed to delete API grants.")
    labels = _labels(grant)
    grant.application.delete()  # cascades to the grant, its entries and tokens
    events.record("api.grant_deleted", actor=actor, **labels)


@transaction.atomic
def add_access(*, actor, grant, account, role, virtual_account=None):
    """Give a Client Credentials grant a role on a local account, or on one of its virtual accounts."""
    _check(actor, Action.MANAGE_API_GRANTS, "You are not allowed to set API access control.")
    if grant.grant_type != ApiGrant.GrantType.CLIENT_CREDENTIALS:
        raise ServiceError(
            "API access control is set on Client Credentials Grants; a Resource Owner Grant "
            "acts with the roles of the user who signs in."
        )
    if role in ACCOUNT_WIDE_ROLES:
        if virtual_account is not None:
            raise ServiceError(f"“{AccountRole(role).label}” is a role on the whole account.", field="role")
    elif role in VIRTUAL_ACCOUNT_ROLES:
        if virtual_account is None:
            raise ServiceError("Choose the virtual account for this role.", field="virtual_account")
        if virtual_account.account_id != account.pk:
            raise ServiceError("The virtual account belongs to another local account.", field="virtual_account")
    else:
        raise ServiceError(f"“{role}” is not an account role.", field="role")
    if ApiAccessEntry.objects.filter(grant=grant, account=account, virtual_account=virtual_account).exists():
        raise ServiceError("The grant already holds a role there; remove it first.", field="role")
    entry = ApiAccessEntry.objects.create(grant=grant, account=account, virtual_account=virtual_account, role=role)
    events.record(
        "api.access_added",
        actor=actor,
        account=account,
        virtual_account=virtual_account,
        grant_name=grant.name,
        role_name=AccountRole(role).label,
        scope_name=_scope_name(entry),
    )
    return entry


@transaction.atomic
def remove_access(*, actor, entry):
    _check(actor, Action.MANAGE_API_GRANTS, "You are not allowed to set API access control.")
    params = {
        "grant_name": entry.grant.name,
        "role_name": AccountRole(entry.role).label,
        "scope_name": _scope_name(entry),
    }
    account, virtual_account = entry.account, entry.virtual_account
    entry.delete()
    events.record("api.access_removed", actor=actor, account=account, virtual_account=virtual_account, **params)


def _scope_name(entry):
    if entry.virtual_account_id:
        return f"{entry.account.name} / {entry.virtual_account.name}"
    return entry.account.name
