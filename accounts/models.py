"""People and their access: users, user groups and role grants on local accounts."""
from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

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
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="UserGroupMembership", related_name="user_groups")
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
