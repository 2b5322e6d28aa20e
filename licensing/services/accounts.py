"""Local accounts: request, create, approve / reject, activate / deactivate.

Every local account is born with its Default local virtual account, in the same transaction,
so "exactly one Default VA per account" holds from the first row on.
"""

from django.db import transaction
from django.utils import timezone

from accounts import rbac
from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import LocalAccount, VirtualAccount
from ..models.accounts import DEFAULT_VIRTUAL_ACCOUNT_NAME

Status = LocalAccount.Status


def _check_name(name):
    name = (name or "").strip()
    if not name:
        raise ServiceError("Local Account Name is required.", field="name")
    if len(name) > 100:
        raise ServiceError("Local Account Name must be at most 100 characters.", field="name")
    if LocalAccount.objects.filter(name=name).exclude(status=Status.REJECTED).exists():
        raise ServiceError(f"A local account named “{name}” already exists.", field="name")
    return name


def _new_account(*, actor, name, cisco_smart_account, cisco_virtual_account, status, **extra):
    name = _check_name(name)
    for field, value in (
        ("cisco_smart_account", cisco_smart_account),
        ("cisco_virtual_account", cisco_virtual_account),
    ):
        if not (value or "").strip():
            label = "Cisco Smart Account" if field == "cisco_smart_account" else "Cisco Virtual Account"
            raise ServiceError(f"{label} is required.", field=field)
    account = LocalAccount.objects.create(
        name=name,
        cisco_smart_account=cisco_smart_account.strip(),
        cisco_virtual_account=cisco_virtual_account.strip(),
        status=status,
        status_changed_at=timezone.now(),
        **extra,
    )
    VirtualAccount.objects.create(account=account, name=DEFAULT_VIRTUAL_ACCOUNT_NAME, is_default=True)
    return account


@transaction.atomic
def request_account(*, actor, name, cisco_smart_account, cisco_virtual_account, email="", message=""):
    """ "Request an Account" from the Licensing workspace: waits for an administrator's approval."""
    if not can(actor, Action.REQUEST_ACCOUNT):
        raise NotAllowed("You are not allowed to request an account.")
    account = _new_account(
        actor=actor,
        name=name,
        cisco_smart_account=cisco_smart_account,
        cisco_virtual_account=cisco_virtual_account,
        status=Status.REQUESTED,
        requested_by=actor,
        requester_email=email or actor.email,
        message_to_creator=message,
    )
    events.record(
        "account.requested", actor=actor, account=account, user_name=actor.username, account_name=account.name
    )
    return account


@transaction.atomic
def create_account(*, actor, name, cisco_smart_account, cisco_virtual_account, description=""):
    """An administrator's "New Account": approved at once, waiting for registration with CSSM."""
    _require_admin(actor)
    account = _new_account(
        actor=actor,
        name=name,
        cisco_smart_account=cisco_smart_account,
        cisco_virtual_account=cisco_virtual_account,
        status=Status.PENDING_REGISTRATION,
        requested_by=actor,
        description=description,
    )
    events.record("account.created", actor=actor, account=account, account_name=account.name)
    return account


def _transition(account, allowed_from, to, *, actor, reason=""):
    account = LocalAccount.objects.select_for_update().get(pk=account.pk)
    if account.status not in allowed_from:
        raise ServiceError(
            f"The local account “{account.name}” is {account.get_status_display()}; "
            f"it cannot become {Status(to).label}."
        )
    account.status = to
    account.status_changed_at = timezone.now()
    fields = ["status", "status_changed_at"]
    if reason:
        account.decision_reason = reason
        fields.append("decision_reason")
    account.save(update_fields=fields)
    return account


def _require_admin(actor):
    """``actor`` None is the system itself (sync, commands, seeding); a person needs the role."""
    if actor is not None and not can(actor, Action.MANAGE_ACCOUNTS):
        raise NotAllowed("You are not allowed to manage local accounts.")


@transaction.atomic
def approve_account_request(*, actor, account):
    _require_admin(actor)
    account = _transition(account, {Status.REQUESTED}, Status.PENDING_REGISTRATION, actor=actor)
    events.record(
        "account.request_approved",
        actor=actor,
        account=account,
        account_name=account.name,
        user_name=getattr(actor, "username", "system"),
    )
    return account


@transaction.atomic
def reject_account_request(*, actor, account, reason=""):
    _require_admin(actor)
    account = _transition(account, {Status.REQUESTED}, Status.REJECTED, actor=actor, reason=reason)
    events.record(
        "account.request_rejected",
        actor=actor,
        account=account,
        account_name=account.name,
        user_name=getattr(actor, "username", "system"),
    )
    return account


@transaction.atomic
def activate_account(*, actor, account, reason=""):
    """Active: after registration with CSSM (``sync``) or re-activation of a deactivated account.

    ``reason`` (optional) goes into the email to the requester, like a deactivation's.
    """
    _require_admin(actor)
    account = _transition(
        account, {Status.PENDING_REGISTRATION, Status.DEACTIVATED}, Status.ACTIVE, actor=actor, reason=reason
    )
    events.record("account.activated", actor=actor, account=account, account_name=account.name)
    return account


@transaction.atomic
def deactivate_account(*, actor, account, reason=""):
    _require_admin(actor)
    account = _transition(account, {Status.ACTIVE}, Status.DEACTIVATED, actor=actor, reason=reason)
    events.record("account.deactivated", actor=actor, account=account, account_name=account.name)
    return account


@transaction.atomic
def delete_account(*, actor, account):
    """ "Delete" of a deactivated local account (guide, "Deleting a Local Account").

    Its product instances must have been removed first (and, when it was registered, CSSM told
    so by a synchronization: ``sync.services.registration.delete_account`` checks that part).
    """
    _require_admin(actor)
    account = LocalAccount.objects.select_for_update().get(pk=account.pk)
    if account.status != Status.DEACTIVATED:
        raise ServiceError(f"The local account “{account.name}” must be deactivated before it can be deleted.")
    if account.product_instances.exists():
        raise ServiceError(f"Remove all product instances of the local account “{account.name}” before deleting it.")
    events.record("account.deleted", actor=actor, account_name=account.name)
    account.delete()


def visible_accounts(who):
    """The Active local accounts this principal may open in the Licensing workspace."""
    principal = rbac.principal_for(who)
    active = LocalAccount.objects.filter(status=LocalAccount.Status.ACTIVE)
    if principal.system_role is None:
        return active.none()
    if principal.is_system_wide_admin:
        return active
    return active.filter(pk__in=principal.granted_account_ids())
