"""Local virtual accounts: create, rename (the Default one too), delete (never the Default)."""

from django.db import transaction

from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import VirtualAccount
from . import alert_hooks


class NameTaken(ServiceError):
    """The name is already used by another virtual account of the account (the API words it its own way)."""


def _require(actor, account):
    if actor is not None and not can(actor, Action.MANAGE_VIRTUAL_ACCOUNTS, account=account):
        raise NotAllowed("You are not allowed to manage local virtual accounts of this account.")


def _clean_name(account, name, exclude_pk=None):
    name = (name or "").strip()
    if not name:
        raise ServiceError("Name is required.", field="name")
    if len(name) > 100:
        raise ServiceError("Name must be at most 100 characters.", field="name")
    taken = VirtualAccount.objects.filter(account=account, name=name).exclude(pk=exclude_pk)
    if taken.exists():
        raise NameTaken(f"A virtual account named “{name}” already exists in this account.", field="name")
    return name


@transaction.atomic
def create_virtual_account(*, actor, account, name, description=""):
    _require(actor, account)
    va = VirtualAccount.objects.create(
        account=account, name=_clean_name(account, name), description=(description or "").strip()[:255]
    )
    events.record("va.created", actor=actor, virtual_account=va, pool_name=va.name)
    return va


@transaction.atomic
def rename_virtual_account(*, actor, virtual_account, name, description=None):
    """Rename a virtual account; the guide allows it for the Default one too (the Star icon)."""
    _require(actor, virtual_account.account)
    va = VirtualAccount.objects.select_for_update(no_key=True).get(pk=virtual_account.pk)
    old_name, new_name = va.name, _clean_name(va.account, name, exclude_pk=va.pk)
    va.name = new_name
    fields = ["name"]
    if description is not None:
        va.description = description.strip()[:255]
        fields.append("description")
    va.save(update_fields=fields)
    if old_name != new_name:
        events.record("va.renamed", actor=actor, virtual_account=va, old_pool_name=old_name, new_pool_name=new_name)
        alert_hooks.account_changed(va.account_id)  # the alert texts name the virtual account
    return va


@transaction.atomic
def delete_virtual_account(*, actor, virtual_account):
    """Delete a non-Default virtual account; VA-scoped role holders lose that role."""
    _require(actor, virtual_account.account)
    if virtual_account.is_default:
        raise ServiceError("The Default local virtual account cannot be deleted.")
    from accounts.models import RoleGrant
    from accounts.roles import AccountRole

    for grant in RoleGrant.objects.filter(
        virtual_account=virtual_account, role=AccountRole.VA_ADMIN, user__isnull=False
    ).select_related("user"):
        assert grant.user is not None  # user__isnull=False
        events.record(
            "user.va_role_removed_on_delete",
            actor=actor,
            account=virtual_account.account,
            user_ccoid=grant.user.username,
            pool_name=virtual_account.name,
        )
    name, account = virtual_account.name, virtual_account.account
    virtual_account.delete()
    events.record("va.removed", actor=actor, account=account, pool_name=name)
