"""The product's roles, in the guide's words ("Cisco Smart Software Manager On-Prem Roles")."""

from django.db import models


class SystemRole(models.TextChoices):
    ADMIN = "system_admin", "System Admin"
    OPERATOR = "system_operator", "System Operator"
    USER = "system_user", "System User"


class AccountRole(models.TextChoices):
    ACCOUNT_ADMIN = "account_admin", "Account Administrator"
    ACCOUNT_USER = "account_user", "Account User"
    VA_ADMIN = "va_admin", "Virtual Account Administrator"
    VA_USER = "va_user", "Virtual Account User"


# Roles held on a whole local account, and roles held on one local virtual account.
ACCOUNT_WIDE_ROLES = frozenset({AccountRole.ACCOUNT_ADMIN, AccountRole.ACCOUNT_USER})
VIRTUAL_ACCOUNT_ROLES = frozenset({AccountRole.VA_ADMIN, AccountRole.VA_USER})
