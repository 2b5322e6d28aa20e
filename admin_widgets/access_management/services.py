"""Saving the Access Management configuration and giving LDAP groups roles.

Rules from the guide: once OAuth2 ADFS is enabled every other tab is disabled (nothing there
can be saved until ADFS is turned off again); the SSO client is for when LDAP is off. Secrets
(bind password, client secrets) are stored encrypted; a blank secret field keeps the stored
one, and "clear" removes it.
"""

from urllib.parse import urlsplit

from django.db import transaction

from accounts import ldap_directory
from accounts.models import ExternalIdentityProvider, LdapConfig, LdapGroupLink, RoleGrant, UserGroup
from accounts.oidc.config import get_provider
from accounts.roles import ACCOUNT_WIDE_ROLES, VIRTUAL_ACCOUNT_ROLES
from accounts.services import grants, groups
from core import events
from core.errors import ServiceError

ADFS_ON = (
    "OAuth2 ADFS is enabled. To use any other authentication process, OAuth2 ADFS authentication must be disabled."
)
USER_GROUP_PREFIX = "LDAP "


def adfs_enabled():
    return ExternalIdentityProvider.objects.filter(kind="adfs", enabled=True).exists()


def _state(enabled):
    return "enabled" if enabled else "disabled"


def _keep_or_replace_secret(current, new, clear):
    if clear:
        return ""
    return new if new else current


# --- LDAP Configuration tab -----------------------------------------------------------------


def ldap_config_from(data, current):
    """An unsaved LdapConfig with ``data`` (the form's cleaned data) checked; ServiceError if bad."""
    config = LdapConfig(pk=1, bind_password=current.bind_password)
    config.enabled = bool(data.get("enabled"))
    config.title = (data.get("title") or "").strip()
    if not config.title:
        raise ServiceError("Enter the LDAP Title.", field="title")
    config.host = ldap_directory.check_host(data.get("host"))
    port = data.get("port")
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ServiceError("The port must be a number from 1 to 65535.", field="port")
    config.port = port
    config.user_base_dn = ldap_directory.check_dn(
        data.get("user_base_dn"), "user_base_dn", "User Base DN", required=True
    )
    config.uid_attribute = ldap_directory.check_attribute(data.get("uid_attribute"))
    if data.get("encryption") not in LdapConfig.Encryption.values:
        raise ServiceError("Choose plain or simple-tls.", field="encryption")
    config.encryption = data["encryption"]
    config.ca_certificate = ldap_directory.check_ca_certificate(data.get("ca_certificate"))
    config.bind_dn = ldap_directory.check_dn(data.get("bind_dn"), "bind_dn", "Bind DN", required=False)
    config.bind_password = _keep_or_replace_secret(
        current.bind_password, data.get("bind_password"), data.get("clear_bind_password")
    )
    if config.bind_password and not config.bind_dn:
        raise ServiceError("A password needs a Bind DN.", field="bind_dn")
    config.group_base_dn = ldap_directory.check_dn(
        data.get("group_base_dn"), "group_base_dn", "Group Base DN", required=False
    )
    if data.get("ldap_type") not in LdapConfig.LdapType.values:
        raise ServiceError("Choose ActiveDirectory or OpenLDAP.", field="ldap_type")
    config.ldap_type = data["ldap_type"]
    return config


@transaction.atomic
def save_ldap_config(*, actor, data):
    if adfs_enabled():
        raise ServiceError(ADFS_ON)
    current = ldap_directory.get_config()
    config = ldap_config_from(data, current)
    if config.enabled and ExternalIdentityProvider.objects.filter(kind="sso", enabled=True).exists():
        raise ServiceError(
            "The SSO Client is enabled; turn it off before enabling LDAP authentication.", field="enabled"
        )
    config.save()
    events.record("access.ldap_config_saved", actor=actor, title=config.title, state=_state(config.enabled))
    return config


def try_ldap_config(*, data):
    """Try the configuration typed in the form (not saved) against the server."""
    config = ldap_config_from(data, ldap_directory.get_config())
    return ldap_directory.try_connection(config)


# --- OAuth2 ADFS and SSO Client tabs -----------------------------------------------------------


def _check_url(value, label):
    value = (value or "").strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ServiceError(
            f"The {label} must begin with https:// or http:// followed by a host name, FQDN, IPv4 or IPv6 address.",
            field="server_url",
        )
    return value.rstrip("/")


@transaction.atomic
def save_provider(*, actor, kind, data):
    config = get_provider(kind)
    if kind == "sso" and adfs_enabled():
        raise ServiceError(ADFS_ON)
    enabled = bool(data.get("enabled"))
    if kind == "sso" and enabled and LdapConfig.objects.filter(pk=1, enabled=True).exists():
        raise ServiceError(
            "The SSO Client is used when LDAP secondary authentication is disabled; disable LDAP first.",
            field="enabled",
        )
    label = "ADFS Server URL" if kind == "adfs" else "Authentication Server"
    server_url = (data.get("server_url") or "").strip()
    client_id = (data.get("client_id") or "").strip()
    secret = _keep_or_replace_secret(config.client_secret, data.get("client_secret"), data.get("clear_client_secret"))
    if enabled or server_url:
        server_url = _check_url(server_url, label)
    if enabled and not client_id:
        raise ServiceError("Enter the Client ID." if kind == "adfs" else "Enter the Application ID.", field="client_id")
    if kind == "adfs":
        resource = (data.get("resource_name") or "").strip()
        if enabled and not resource:
            raise ServiceError("Enter the ADFS Resource Name.", field="resource_name")
        if data.get("adfs_mode") not in ExternalIdentityProvider.AdfsMode.values:
            raise ServiceError("Choose ADFS V3 Mode or ADFS V4 Mode.", field="adfs_mode")
        config.resource_name, config.adfs_mode = resource, data["adfs_mode"]
        config.import_claims = bool(data.get("import_claims"))
    elif enabled and not secret:
        raise ServiceError("Enter the Application Secret.", field="client_secret")
    config.enabled, config.server_url, config.client_id, config.client_secret = enabled, server_url, client_id, secret
    config.save()
    events.record("access.provider_saved", actor=actor, method=config.get_kind_display(), state=_state(enabled))
    return config


# --- LDAP Groups tab: roles --------------------------------------------------------------------


def _user_group_for(actor, ldap_group, account):
    """The user group standing for ``ldap_group`` in ``account`` (created on first use)."""
    link = (
        LdapGroupLink.objects.select_related("user_group")
        .filter(ldap_group=ldap_group, user_group__account=account)
        .first()
    )
    if link is not None:
        return link.user_group
    name = (USER_GROUP_PREFIX + ldap_group.name)[: UserGroup._meta.get_field("name").max_length]
    if UserGroup.objects.filter(account=account, name__iexact=name).exists():
        raise ServiceError(f"The account already has a user group named “{name}”; rename it first.")
    user_group = groups.create_group(
        actor=actor, account=account, name=name, description=f"Members of the LDAP group {ldap_group.dn}"[:255]
    )
    LdapGroupLink.objects.create(ldap_group=ldap_group, user_group=user_group)
    ldap_directory.sync_all_memberships()
    return user_group


@transaction.atomic
def assign_ldap_group_roles(*, actor, ldap_group, account, role=None, virtual_account_roles=()):
    """The guide's LDAP Groups steps: an account-wide role (Account Admin / User), or per virtual
    account roles; every member of the LDAP group then holds it."""
    if adfs_enabled():
        raise ServiceError(ADFS_ON)
    if role is None and not virtual_account_roles:
        raise ServiceError("Choose a role.", field="role")
    if role is not None and role not in ACCOUNT_WIDE_ROLES:
        raise ServiceError("Choose Account Admin, Account User or Per Virtual Account.", field="role")
    for virtual_account, va_role in virtual_account_roles:
        if virtual_account.account_id != account.pk:
            raise ServiceError("A virtual account of another local account cannot be assigned here.")
        if va_role not in VIRTUAL_ACCOUNT_ROLES:
            raise ServiceError("Choose a virtual account role.", field="role")
    user_group = _user_group_for(actor, ldap_group, account)
    if role is not None:
        # An account-wide role replaces per-VA roles of the group on this account.
        RoleGrant.objects.filter(group=user_group, virtual_account__isnull=False).delete()
        return [grants.set_account_role(actor=actor, account=account, role=role, group=user_group)]
    RoleGrant.objects.filter(group=user_group, virtual_account__isnull=True).delete()
    return [
        grants.set_virtual_account_role(actor=actor, virtual_account=va, role=va_role, group=user_group)
        for va, va_role in virtual_account_roles
    ]


@transaction.atomic
def remove_ldap_group_grant(*, actor, ldap_group, grant):
    if adfs_enabled():
        raise ServiceError(ADFS_ON)
    user_group = grant.group
    if user_group is None or not LdapGroupLink.objects.filter(ldap_group=ldap_group, user_group=user_group).exists():
        raise ServiceError("This role does not belong to the LDAP group.")
    grants.revoke_grant(actor=actor, grant=grant)
    if not user_group.role_grants.exists():
        groups.delete_group(actor=actor, group=user_group)  # no roles left: the members lose nothing more


def ldap_group_grants(ldap_group):
    """The role grants the LDAP group holds, through its user groups, account by account."""
    return (
        RoleGrant.objects.filter(group__ldap_link__ldap_group=ldap_group)
        .select_related("account", "virtual_account")
        .order_by("account__name", "virtual_account__name")
    )
