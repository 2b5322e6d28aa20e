"""Granting and withdrawing account roles (Manage Account > Users / User Groups)."""

from django.db import transaction
from django.utils.text import format_lazy

from core import events
from core.errors import NotAllowed, ServiceError

from ..models import RoleGrant
from ..rbac import grantable_roles
from ..roles import ACCOUNT_WIDE_ROLES, VIRTUAL_ACCOUNT_ROLES, AccountRole


def _holder(user, group):
    if (user is None) == (group is None):
        raise ServiceError("A role is granted to one user or one user group.")
    return {"user": user} if user is not None else {"group": group}


def _holder_name(user, group):
    return user.username if user is not None else group.name


def _holders(user, group):
    """Who a role change is about, for its mail (A.5 "User Role Modified"): the user, or the group's members."""
    if user is not None:
        return [user]
    return [membership.user for membership in group.memberships.select_related("user")]


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
    events.record(
        "user.role_added",
        actor=actor,
        account=account,
        notify=_holders(user, group),
        user_name=_holder_name(user, group),
        role_name=AccountRole(role).label,
    )
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
        account=virtual_account.account,
        virtual_account=virtual_account,
        **holder,
        defaults={"role": role, "granted_by": actor},
    )
    events.record(
        "user.role_added",
        actor=actor,
        virtual_account=virtual_account,
        notify=_holders(user, group),
        user_name=_holder_name(user, group),
        role_name=format_lazy("{} ({})", AccountRole(role).label, virtual_account.name),
    )
    return grant


@transaction.atomic
def revoke_grant(*, actor, grant):
    scope_va = grant.virtual_account
    if actor is not None and grant.role not in grantable_roles(actor, grant.account, scope_va):
        raise NotAllowed("You are not allowed to remove this role.")
    events.record(
        "user.role_removed",
        actor=actor,
        account=grant.account,
        virtual_account=scope_va,
        notify=_holders(grant.user, grant.group),
        user_name=_holder_name(grant.user, grant.group),
        role_name=AccountRole(grant.role).label,
    )
    grant.delete()


# --- Manage Account > Users: finding a user, assigning roles in one go, listing holders ----------


def find_user(identifier):
    """The user whose User ID or email address is ``identifier`` (the guide: users must exist).

    User IDs are unique regardless of case (``create_user`` refuses "Alice" beside "alice");
    an email address may be shared, and then only the User ID can say who is meant.
    """
    from django.contrib.auth import get_user_model

    User = get_user_model()
    identifier = (identifier or "").strip()
    if not identifier:
        raise ServiceError("Enter a User ID or an email address.", field="user")
    user = User.objects.filter(username__iexact=identifier).first()
    if user is not None:
        return user
    by_email = list(User.objects.filter(email__iexact=identifier)[:2])
    if len(by_email) > 1:
        raise ServiceError(f"Several users have the email address “{identifier}”; enter the User ID.", field="user")
    if not by_email:
        raise ServiceError(f"No user with the User ID or email address “{identifier}” exists.", field="user")
    return by_email[0]


@transaction.atomic
def assign_roles(*, actor, account, user, role=None, virtual_account_roles=()):
    """Manage Account > Users: give ``user`` an account-wide ``role``, or roles on specific local
    virtual accounts (``[(virtual_account, role), ...]``), all or nothing."""
    if role is None and not virtual_account_roles:
        raise ServiceError("Choose a role.", field="role")
    if role is not None:
        return [set_account_role(actor=actor, account=account, role=role, user=user)]
    grants = []
    for virtual_account, va_role in virtual_account_roles:
        if virtual_account.account_id != account.pk:
            raise NotAllowed("A virtual account of another local account cannot be assigned here.")
        grants.append(set_virtual_account_role(actor=actor, virtual_account=virtual_account, role=va_role, user=user))
    return grants


def account_members(account, virtual_accounts=None):
    """The users holding a role on ``account``, directly or through a user group, for one listing.

    Each user comes with ``account_grants`` (their own grants here) and ``account_memberships``
    (memberships of this account's groups that hold a role, each ``membership.group.account_grants``),
    prefetched: a page of users costs the same few queries however many rows or roles it has.
    With ``virtual_accounts``, only roles on those local virtual accounts count (what a Virtual
    Account Administrator sees).
    """
    from django.contrib.auth import get_user_model
    from django.db.models import F, Prefetch, Q

    from ..models import UserGroupMembership

    grants = RoleGrant.objects.filter(account=account)
    if virtual_accounts is not None:
        grants = grants.filter(virtual_account__in=virtual_accounts)
    grants = grants.select_related("virtual_account").order_by(F("virtual_account__name").asc(nulls_first=True), "role")
    memberships = (
        UserGroupMembership.objects.filter(group_id__in=grants.filter(group__isnull=False).values("group_id"))
        .select_related("group")
        .prefetch_related(Prefetch("group__role_grants", queryset=grants, to_attr="account_grants"))
        .order_by("group__name")
    )
    holder_ids = grants.filter(user__isnull=False).values("user_id")
    member_ids = memberships.values("user_id")
    return (
        get_user_model()
        .objects.filter(Q(pk__in=holder_ids) | Q(pk__in=member_ids))
        .prefetch_related(
            Prefetch("role_grants", queryset=grants, to_attr="account_grants"),
            Prefetch("group_memberships", queryset=memberships, to_attr="account_memberships"),
        )
    )
