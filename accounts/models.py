"""People and their access: users, user groups and role grants on local accounts."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from core.crypto import EncryptedTextField

from .roles import ACCOUNT_WIDE_ROLES, VIRTUAL_ACCOUNT_ROLES, AccountRole, SystemRole


class User(AbstractUser):
    """A person who signs in. ``is_active`` False is the guide's "Disabled User"."""

    class Source(models.TextChoices):
        LOCAL = "local", "Local"
        LDAP = "ldap", "LDAP"
        ADFS = "adfs", "OAuth2 ADFS"
        SSO = "sso", "SSO"

    system_role = models.CharField(max_length=20, choices=SystemRole.choices, default=SystemRole.USER)
    description = models.CharField(max_length=255, blank=True)
    language = models.CharField(max_length=10, choices=settings.LANGUAGES, default="en")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.LOCAL)
    # The initial login wizard (language, new password, certificate check, review) runs until done.
    needs_first_login_wizard = models.BooleanField(default=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["username"]

    @property
    def is_system_admin(self):
        return self.system_role == SystemRole.ADMIN

    @property
    def is_system_operator(self):
        return self.system_role == SystemRole.OPERATOR


class UserGroup(models.Model):
    """A group of users of one local account, so roles can be granted to many at once."""

    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="user_groups")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=255, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="UserGroupMembership", related_name="user_groups"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="user_group_unique_name")]

    def __str__(self):
        return self.name


class UserGroupMembership(models.Model):
    group = models.ForeignKey(UserGroup, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_memberships")
    is_owner = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="group_member_once"),
            # The guide: "Only one user can be set to be the owner of a group."
            models.UniqueConstraint(fields=["group"], condition=Q(is_owner=True), name="group_one_owner"),
        ]


class RoleGrant(models.Model):
    """A role on a local account (Account Administrator / User) or on one of its virtual accounts
    (Virtual Account Administrator / User), held by a user or by a user group.

    One grant per principal and scope: a principal has at most one account-wide role per
    account and at most one role per virtual account; changing the role replaces the grant.
    """

    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="role_grants")
    virtual_account = models.ForeignKey(
        "licensing.VirtualAccount", null=True, blank=True, on_delete=models.CASCADE, related_name="role_grants"
    )
    role = models.CharField(max_length=20, choices=AccountRole.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="role_grants"
    )
    group = models.ForeignKey(UserGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="role_grants")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False)),
                name="grant_one_principal",
            ),
            models.CheckConstraint(
                condition=(
                    Q(virtual_account__isnull=True, role__in=sorted(ACCOUNT_WIDE_ROLES))
                    | Q(virtual_account__isnull=False, role__in=sorted(VIRTUAL_ACCOUNT_ROLES))
                ),
                name="grant_role_matches_scope",
            ),
            models.UniqueConstraint(
                fields=["user", "account"],
                condition=Q(virtual_account__isnull=True, user__isnull=False),
                name="grant_user_account_once",
            ),
            models.UniqueConstraint(
                fields=["user", "virtual_account"],
                condition=Q(virtual_account__isnull=False, user__isnull=False),
                name="grant_user_va_once",
            ),
            models.UniqueConstraint(
                fields=["group", "account"],
                condition=Q(virtual_account__isnull=True, group__isnull=False),
                name="grant_group_account_once",
            ),
            models.UniqueConstraint(
                fields=["group", "virtual_account"],
                condition=Q(virtual_account__isnull=False, group__isnull=False),
                name="grant_group_va_once",
            ),
        ]
        indexes = [models.Index(fields=["account", "user"], name="grant_account_user")]

    def __str__(self):
        holder = self.user or self.group
        scope = self.virtual_account or self.account
        return f"{holder}: {self.get_role_display()} on {scope}"


# --- Access Management (LDAP, OAuth2 ADFS, SSO client) -------------------------------------------
# The Administration workspace's Access Management widget keeps its configuration here; the
# authentication backends (accounts/ldap_backend.py, accounts/oidc/) read it on every login, so a
# saved change applies at once, without a restart.


class LdapConfig(models.Model):
    """The one LDAP configuration record (pk 1): the guide's "LDAP Configuration" tab."""

    class Encryption(models.TextChoices):
        PLAIN = "plain", "plain (Plain Text Authentication)"
        SIMPLE_TLS = "simple-tls", "simple-tls (Transport Layer Security)"

    class LdapType(models.TextChoices):
        ACTIVE_DIRECTORY = "ad", "ActiveDirectory"
        OPENLDAP = "openldap", "OpenLDAP"

    enabled = models.BooleanField(default=False)
    title = models.CharField(max_length=100, blank=True)
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(default=389)
    user_base_dn = models.CharField(max_length=500, blank=True)
    uid_attribute = models.CharField(max_length=100, default="uid")
    encryption = models.CharField(max_length=12, choices=Encryption.choices, default=Encryption.PLAIN)
    bind_dn = models.CharField(max_length=500, blank=True)
    bind_password = EncryptedTextField(blank=True, default="")
    # simple-tls: the CA certificate(s), PEM, that signed the server's certificate when it is not
    # one the system trusts (an internal CA); empty = the system's trusted CAs only.
    ca_certificate = models.TextField(blank=True, default="")
    group_base_dn = models.CharField(max_length=500, blank=True)
    ldap_type = models.CharField(max_length=10, choices=LdapType.choices, default=LdapType.OPENLDAP)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.title or "LDAP"


class LdapGroup(models.Model):
    """A group imported from the LDAP server by "Update LDAP Data" (at most 1000, the guide)."""

    dn = models.CharField(max_length=500, unique=True)
    name = models.CharField(max_length=255)
    description = models.CharField(max_length=255, blank=True)
    # The members' user ids (lower case) as the server listed them at the last import.
    member_uids = models.JSONField(default=list, blank=True)
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class LdapGroupLink(models.Model):
    """The user group of one local account that stands for an LDAP group there.

    Roles an administrator gives an LDAP group on an account are role grants of this user group,
    and its members are kept equal to the LDAP group's at every LDAP login, so the one RBAC
    policy (``accounts.rbac``) needs to know nothing about LDAP.
    """

    ldap_group = models.ForeignKey(LdapGroup, on_delete=models.CASCADE, related_name="links")
    user_group = models.OneToOneField(UserGroup, on_delete=models.CASCADE, related_name="ldap_link")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ldap_group", "user_group"], name="ldap_link_once")]


class ExternalIdentityProvider(models.Model):
    """The OAuth2 ADFS configuration and the SSO client configuration (one row per kind)."""

    class Kind(models.TextChoices):
        ADFS = "adfs", "OAuth2 ADFS"
        SSO = "sso", "SSO Client"

    class AdfsMode(models.TextChoices):
        V3 = "v3", "ADFS V3 Mode"
        V4 = "v4", "ADFS V4 Mode"

    kind = models.CharField(max_length=10, choices=Kind.choices, unique=True)
    enabled = models.BooleanField(default=False)
    server_url = models.CharField(max_length=500, blank=True)
    adfs_mode = models.CharField(max_length=2, choices=AdfsMode.choices, default=AdfsMode.V4)
    import_claims = models.BooleanField(default=True)
    resource_name = models.CharField(max_length=255, blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    client_secret = EncryptedTextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.get_kind_display()


# Security widget models (password policy, lockout, sessions, CSR key) live in their own module.
# The API Toolkit's and the rate limit's models live in their own modules (they import this one);
# importing them here registers them with the app.
from .api_clients import ApiAccessEntry, ApiConsole, ApiGrant  # noqa: E402,F401
from .rate_limit_models import FailureCounter  # noqa: E402,F401
from .security_models import (  # noqa: E402,F401
    LoginFailure,
    PasswordHistory,
    PendingCsr,
    SecurityPolicy,
    UserLock,
    UserSession,
)
