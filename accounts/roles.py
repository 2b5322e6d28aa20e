"""The product's roles, in the guide's words ("Cisco Smart Software Manager On-Prem Roles")."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SystemRole(models.TextChoices):
    ADMIN = "system_admin", _("System Admin")
    OPERATOR = "system_operator", _("System Operator")
    USER = "system_user", _("System User")


class AccountRole(models.TextChoices):
    ACCOUNT_ADMIN = "account_admin", _("Account Administrator")
    ACCOUNT_USER = "account_user", _("Account User")
    VA_ADMIN = "va_admin", _("Virtual Account Administrator")
    VA_USER = "va_user", _("Virtual Account User")


# Roles held on a whole local account, and roles held on one local virtual account.
ACCOUNT_WIDE_ROLES = frozenset({AccountRole.ACCOUNT_ADMIN, AccountRole.ACCOUNT_USER})
VIRTUAL_ACCOUNT_ROLES = frozenset({AccountRole.VA_ADMIN, AccountRole.VA_USER})
