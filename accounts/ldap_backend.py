"""LDAP sign-in through django-auth-ldap, configured from the Access Management widget.

django-auth-ldap normally reads ``AUTH_LDAP_*`` settings once per process. Here every
``authenticate`` call builds those settings from the stored ``LdapConfig`` row (one query), so
an administrator's change applies to the very next login, in every worker, with no restart
and no cache to invalidate. Django makes a new backend instance for each authentication.

Only users whose ``source`` is LDAP may sign in here: an LDAP entry that happens to share a
local user's name never opens that local account (nor an ADFS/SSO one).
"""

import logging

import ldap
from django_auth_ldap.backend import LDAPBackend as _DjangoAuthLDAPBackend
from django_auth_ldap.backend import _LDAPUser
from django_auth_ldap.config import (
    ActiveDirectoryGroupType,
    LDAPSearch,
    LDAPSettings,
    PosixGroupType,
)

from core import events

from . import ldap_directory

logger = logging.getLogger(__name__)

# A prefix no settings module defines, so LDAPSettings takes every value from our defaults.
_UNUSED_PREFIX = "ONPREM_RUNTIME_LDAP_"


def build_settings(config):
    """django-auth-ldap settings for one stored LDAP configuration."""
    values = {
        "SERVER_URI": ldap_directory.server_uri(config),
        "CONNECTION_OPTIONS": ldap_directory.connection_options(config),
        "BIND_DN": config.bind_dn,
        "BIND_PASSWORD": config.bind_password,
        "USER_SEARCH": LDAPSearch(config.user_base_dn, ldap.SCOPE_SUBTREE, ldap_directory.user_search_filter(config)),
        "USER_ATTR_MAP": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
        "ALWAYS_UPDATE_USER": True,
        "CACHE_TIMEOUT": 0,
    }
    if config.group_base_dn:
        scheme = ldap_directory.GROUP_SCHEMES[config.ldap_type]
        values["GROUP_SEARCH"] = LDAPSearch(config.group_base_dn, ldap.SCOPE_SUBTREE, scheme["filter"])
        values["GROUP_TYPE"] = ActiveDirectoryGroupType() if config.ldap_type == "ad" else PosixGroupType()
    return LDAPSettings(_UNUSED_PREFIX, values)


class LDAPBackend(_DjangoAuthLDAPBackend):
    """The LDAP authentication backend of the product (in AUTHENTICATION_BACKENDS)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        config = ldap_directory.active_config()
        if config is None or not username or not password:
            return None
        self.settings = build_settings(config)
        self._config = config
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_user(self, user_id):
        # A session of an LDAP user stays valid while the user is enabled; no LDAP round trip.
        user = self.get_user_model().objects.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None

    def get_group_permissions(self, user, obj=None):
        return set()  # the product's RBAC (accounts.rbac) decides; Django permissions are unused

    def get_or_build_user(self, username, ldap_user):
        model = self.get_user_model()
        user = model.objects.filter(username__iexact=username).first()
        if user is None:
            return model(username=username.lower(), source=model.Source.LDAP, needs_first_login_wizard=False), True
        if user.source != model.Source.LDAP:
            raise _LDAPUser.AuthenticationFailed(f"{username} exists and is not an LDAP user")
        if not user.is_active:
            raise _LDAPUser.AuthenticationFailed(f"{username} is disabled")
        return user, False

    def authenticate_ldap_user(self, ldap_user, password):
        model = self.get_user_model()
        existed = model.objects.filter(username__iexact=ldap_user._username, source=model.Source.LDAP).exists()
        user = ldap_user.authenticate(password)
        if user is None:
            return None
        if not existed:
            events.record("user.added", user_name=user.username)
        group_dns = set()
        if self._config.group_base_dn:
            try:
                group_dns = ldap_user.group_dns
            except ldap.LDAPError as error:
                # Signing in still works; memberships stay as they were until the next login.
                logger.warning(
                    "LDAP group lookup for %s failed: %s", user.username, ldap_directory.describe_error(error)
                )
                return user
        ldap_directory.sync_login_memberships(user, group_dns)
        return user
