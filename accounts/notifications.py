"""The guide's "Events that Trigger Email Notifications" (A.5): which events mail whom.

Subscribed to the event log (``core.events.on_recorded``): after an event of one of these
types commits, its message is mailed to the people it concerns. A service that knows the
person an event is about passes ``notify=[user, ...]`` to ``record()``; otherwise the rules
below find them from the event's local account.
"""

from django.contrib.auth import get_user_model

from accounts.roles import AccountRole, SystemRole

# event type -> the A.5 name, used as the mail's subject
EMAIL_EVENTS = {
    "group.added": "User Group Created",
    "group.removed": "User Group Deleted",
    "group.user_added": "User Group Member Added",
    "group.user_removed": "User Group Member Removed",
    "va.removed": "License Pool removed",
    "account.deactivated": "Account Deactivated",
    "account.activated": "Account Reactivated",
    "account.requested": "Account Request Pending",
    "account.request_approved": "Account Request Accepted",
    "account.request_rejected": "Account Request Rejected",
    "user.role_added": "User Role Modified",
    "user.role_removed": "User Role Modified",
    "user.system_role_changed": "User Role Modified",
    "user.password_changed": "Notification of password update",
}


def _emails(users):
    return [getattr(user, "email", user) for user in users]


def _system_admins():
    return (
        get_user_model()
        .objects.filter(is_active=True, system_role__in=[SystemRole.ADMIN, SystemRole.OPERATOR])
        .exclude(email="")
        .values_list("email", flat=True)
    )


def _account_admins(account):
    from accounts.models import RoleGrant

    grants = RoleGrant.objects.filter(account=account, role=AccountRole.ACCOUNT_ADMIN, virtual_account=None)
    direct = grants.filter(user__isnull=False, user__is_active=True).values_list("user__email", flat=True)
    via_group = grants.filter(group__isnull=False).values_list("group__memberships__user__email", flat=True)
    return list(direct) + list(via_group)


def _requester(account):
    requester = account.requested_by.email if account.requested_by_id else ""
    return [requester, account.requester_email]


def recipients(event):
    """The addresses an event's mail goes to (may be empty)."""
    named = getattr(event, "notify", None)
    if named:
        return _emails(named)
    account = event.account
    if event.event_type == "account.requested":
        return list(_system_admins()) + (_requester(account) if account else [])
    if event.event_type.startswith("account.") and account is not None:
        return _requester(account) + _account_admins(account)
    if event.event_type in ("group.added", "group.removed", "va.removed") and account is not None:
        return _account_admins(account)
    return []


def mail_event(event):
    subject_name = EMAIL_EVENTS.get(event.event_type)
    if subject_name is None:
        return
    addresses = recipients(event)
    if not addresses:
        return
    from core.mail import send_later

    body = event.message
    reason = getattr(event.account, "decision_reason", "") if event.account_id else ""
    if reason and event.event_type in ("account.request_rejected", "account.deactivated"):
        body += f"\n\nReason: {reason}"  # the guide: reasons go into the mail to the requester
    send_later(f"Smart Software Manager On-Prem: {subject_name}", body, addresses)
