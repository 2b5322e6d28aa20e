"""Requests for access to an existing local account, and their approval or decline."""

from django.db import transaction
from django.utils import timezone

from accounts.rbac import Action, can
from accounts.roles import AccountRole
from accounts.services.grants import set_account_role
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import AccessRequest, LocalAccount


@transaction.atomic
def request_access(*, actor, account_name, company=""):
    """ "Request Access to an Existing Account" by its name (exact match, Active accounts only)."""
    if not can(actor, Action.REQUEST_ACCOUNT):
        raise NotAllowed("You are not allowed to request access.")
    name = (account_name or "").strip()
    if not name:
        raise ServiceError("Account Name is required.", field="account_name")
    account = LocalAccount.objects.filter(name=name, status=LocalAccount.Status.ACTIVE).first()
    if account is None:
        raise ServiceError(f"No active local account is named “{name}”.", field="account_name")
    if can(actor, Action.VIEW_ACCOUNT, account=account):
        raise ServiceError(f"You already have access to the local account “{name}”.", field="account_name")
    if AccessRequest.objects.filter(account=account, user=actor, status=AccessRequest.Status.PENDING).exists():
        raise ServiceError(f"Your request for access to “{name}” is already pending.", field="account_name")
    access_request = AccessRequest.objects.create(account=account, user=actor, company=(company or "").strip()[:255])
    events.record("access.requested", actor=actor, account=account, user_name=actor.username, account_name=name)
    return access_request


def _decide(actor, access_request, status):
    if not can(actor, Action.MANAGE_ACCOUNT_USERS, account=access_request.account) or not _is_account_admin(
        actor, access_request.account
    ):
        raise NotAllowed("Only an Account or System Administrator can decide access requests.")
    locked = AccessRequest.objects.select_for_update().get(pk=access_request.pk)
    if locked.status != AccessRequest.Status.PENDING:
        raise ServiceError(f"This request was already {locked.get_status_display().lower()}.")
    locked.status, locked.decided_by, locked.decided_at = status, actor, timezone.now()
    locked.save(update_fields=["status", "decided_by", "decided_at"])
    return locked


def _is_account_admin(actor, account):
    from accounts.rbac import grantable_roles

    return AccountRole.ACCOUNT_ADMIN in grantable_roles(actor, account)


@transaction.atomic
def approve_access_request(*, actor, access_request, role=AccountRole.ACCOUNT_USER):
    """Approve: the requester gets an account-wide role (Account User unless chosen otherwise)."""
    decided = _decide(actor, access_request, AccessRequest.Status.APPROVED)
    set_account_role(actor=actor, account=decided.account, user=decided.user, role=role)
    events.record(
        "access.approved",
        actor=actor,
        account=decided.account,
        user_name=decided.user.username,
        account_name=decided.account.name,
    )
    return decided


@transaction.atomic
def decline_access_request(*, actor, access_request):
    decided = _decide(actor, access_request, AccessRequest.Status.DECLINED)
    events.record(
        "access.declined",
        actor=actor,
        account=decided.account,
        user_name=decided.user.username,
        account_name=decided.account.name,
    )
    return decided
