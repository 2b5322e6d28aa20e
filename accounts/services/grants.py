"""Granting and withdrawing account roles (Manage Account > Users / User Groups)."""
from django.db import transaction

from onprem import events
from onprem.errors import NotAllowed, ServiceError

from ..models import RoleGrant
from ..rbac import grantable_roles
from ..roles import ACCOUNT_WIDE_ROLES, VIRTUAL_ACCOUNT_ROLES, AccountRole


def _holder(user, group):
    if (user is None) == (group is None):
        raise ServiceError("A role is granted to one user or one user group.")
    return {"user": user} if user is not None else {"group": group}


def _holder_name(user, group):
    return user.username if user is not None else group.name


@transaction.atomic
def set_account_role(*, actor, account, role, user=None, group=None):
    """Give a user or group an account-wide role, replacing the one it had on the account."""
    if role not in ACCOUNT_WIDE_ROLES:
        raise ServiceError(f"“{role}” is not an account-wide role.", field="role")
    if actor is not None and role not in grantable_roles(actor, account):
        raise NotAllowed("You are not allowed to assign account roles on this account.")
    if user is not None and not user.is_active:
        raise ServiceError(f"The user “{user.username}” is disabled.")
    holder = _holder(user, group)
    grant, _ = RoleGrant.objects.update_or_create(
        account=account, virtual_account=None, **holder, defaults={"role": role, "granted_by": actor}
    )
    events.record("user.role_added", actor=actor, account=account,
                  user_name=_holder_name(user, group), role_name=AccountRole(role).label)
    return grant


@transaction.atomic
def set_virtual_account_role(*, actor, virtual_account, role, user=None, group=None):
    """Give a user or group a role on one local virtual account, replacing its previous one there."""
    if role not in VIRTUAL_ACCOUNT_ROLES:
        raise ServiceError(f"“{role}” is not a virtual account role.", field="role")
    if actor is not None and role not in grantable_roles(actor, virtual_account.account, virtual_account):
        raise NotAllowed("You are not allowed to assign roles on this virtual account.")
    if user is not None and not user.is_active:
        raise ServiceError(f"The user “{user.username}” is disabled.")
    holder = _holder(user, group)
    grant, _ = RoleGrant.objects.update_or_create(
        account=virtual_account.account, virtual_account=virtual_account, **holder,
        defaults={"role": role, "granted_by": actor},
    )
    events.record("user.role_added", actor=actor, virtual_account=virtual_account,
                  user_name=_holder_name(user, group), role_name=f"{AccountRole(role).label} ({virtual_account.name})")
    return grant


@transaction.atomic
def revoke_grant(*, actor, grant):
    scope_va = grant.virtual_account
    if actor is not None and grant.role not in grantable_roles(actor, grant.account, scope_va):
        raise NotAllowed("You are not allowed to remove this role.")
    events.record("user.role_removed", actor=actor, account=grant.account, virtual_account=scope_va,
                  user_name=_holder_name(grant.user, grant.group), role_name=grant.get_role_display())
    grant.delete()
