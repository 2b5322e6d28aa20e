"""The guide's "Events that Trigger Email Notifications" (A.5): which events mail whom.

Subscribed to the event log (``core.events.on_recorded``): after an event of one of these types
commits, a mail goes to the people its rule names. Every A.5 mail goes through here, so its
subject is the guide's name and who receives it is written once, in ``EMAIL_EVENTS``. A service
that knows the person an event is about passes ``notify=[user, ...]`` to ``record()``; a mail that
says more than the event's message (a reset link, which must not be in the event log; a CSR; a
group message) passes ``mail=core.mail.Content(...)``.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model

from accounts.roles import AccountRole, SystemRole

SUBJECT_PREFIX = "Smart Software Manager On-Prem: "

# A.5, in the guide's order.
A5_NOTIFICATIONS = (
    "User Group Created",
    "User Group Deleted",
    "User Group Member Added",
    "User Group Member Removed",
    "User Group Send Message",
    "License Pool removed",
    "Account Deactivated",
    "Account Reactivated",
    "Account Request Pending",
    "Account Request Accepted",
    "Account Request Rejected",
    "User Role Modified",
    "User Password Expiration Notification",
    "Activation of the code for resetting a password",
    "Notification of password update",
    "Certificate Signing Request",
)
# Mails the guide promises elsewhere: the Authorization Pending alert's text ("An email
# notification will be sent to “%{email}” when the file has been generated").
OTHER_NOTIFICATIONS = ("Authorization File Ready",)


def _addresses(users):
    """Email addresses of ``users`` (users or plain addresses); disabled users get no mail."""
    found = []
    for user in users:
        if isinstance(user, str):
            found.append(user)
        elif getattr(user, "is_active", True):
            found.append(getattr(user, "email", ""))
    return found


def _system_admins(*roles):
    return list(
        get_user_model()
        .objects.filter(is_active=True, system_role__in=roles)
        .exclude(email="")
        .values_list("email", flat=True)
    )


def _account_admins(account):
    from accounts.models import RoleGrant

    if account is None:
        return []
    grants = RoleGrant.objects.filter(account=account, role=AccountRole.ACCOUNT_ADMIN, virtual_account=None)
    direct = grants.filter(user__isnull=False, user__is_active=True).values_list("user__email", flat=True)
    via_group = grants.filter(group__isnull=False, group__memberships__user__is_active=True).values_list(
        "group__memberships__user__email", flat=True
    )
    return list(direct) + list(via_group)


def _requester(account):
    if account is None:
        return []
    requester = account.requested_by.email if account.requested_by_id else ""
    return [requester, account.requester_email]


# --- The rules: event -> addresses ------------------------------------------------------------


def the_people_concerned(event):
    """The users the service named (``notify=``): the member, the role holder, the password owner."""
    return _addresses(getattr(event, "notify", None) or ())


def account_admins(event):
    return _account_admins(event.account)


def requester_and_account_admins(event):
    return _requester(event.account) + _account_admins(event.account)


def system_staff_and_requester(event):
    return _system_admins(SystemRole.ADMIN, SystemRole.OPERATOR) + _requester(event.account)


def system_admins(event):
    return _system_admins(SystemRole.ADMIN)


@dataclass(frozen=True)
class Notification:
    name: str  # the A.5 name: the mail's subject
    recipients: Callable  # event -> addresses
    who: str  # the rule in words (docs/settings.md lists the same)
    one_each: bool = False  # one mail per address, so recipients do not see each other's
    footer: str = ""  # a line after the message


_NOT_YOU = "If you did not expect this change, tell your administrator."

# event type -> its A.5 notification
EMAIL_EVENTS = {
    "group.added": Notification("User Group Created", account_admins, "the account's Account Admins"),
    "group.removed": Notification("User Group Deleted", account_admins, "the account's Account Admins"),
    "group.user_added": Notification("User Group Member Added", the_people_concerned, "the member"),
    "group.user_removed": Notification("User Group Member Removed", the_people_concerned, "the member"),
    "group.message_sent": Notification(
        "User Group Send Message", the_people_concerned, "every enabled member with an email", one_each=True
    ),
    "va.removed": Notification("License Pool removed", account_admins, "the account's Account Admins"),
    "account.deactivated": Notification(
        "Account Deactivated", requester_and_account_admins, "the requester and the account's Account Admins"
    ),
    "account.activated": Notification(
        "Account Reactivated", requester_and_account_admins, "the requester and the account's Account Admins"
    ),
    "account.requested": Notification(
        "Account Request Pending", system_staff_and_requester, "System Admins and Operators, and the requester"
    ),
    "account.request_approved": Notification(
        "Account Request Accepted", requester_and_account_admins, "the requester and the account's Account Admins"
    ),
    "account.request_rejected": Notification(
        "Account Request Rejected", requester_and_account_admins, "the requester and the account's Account Admins"
    ),
    "user.role_added": Notification(
        "User Role Modified", the_people_concerned, "the user, or every member of the group, whose role changed"
    ),
    "user.role_removed": Notification(
        "User Role Modified", the_people_concerned, "the user, or every member of the group, whose role changed"
    ),
    "user.system_role_changed": Notification(
        "User Role Modified", the_people_concerned, "the user whose role changed", footer=_NOT_YOU
    ),
    "security.password_expiry_notice": Notification(
        "User Password Expiration Notification", the_people_concerned, "the user whose password expires"
    ),
    "security.password_reset_requested": Notification(
        "Activation of the code for resetting a password", the_people_concerned, "the user who asked for the link"
    ),
    "user.password_changed": Notification(
        "Notification of password update", the_people_concerned, "the user", footer=_NOT_YOU
    ),
    "user.password_reset": Notification(
        "Notification of password update", the_people_concerned, "the user", footer=_NOT_YOU
    ),
    "security.csr_generated": Notification("Certificate Signing Request", system_admins, "System Admins"),
    "alert.authorization_ready": Notification(
        "Authorization File Ready", the_people_concerned, "the address the Authorization Pending alert named"
    ),
}


def recipients(event):
    """The addresses an event's mail goes to (may be empty)."""
    notification = EMAIL_EVENTS.get(event.event_type)
    if notification is None:
        return []
    return sorted({address for address in notification.recipients(event) if address})


def subject(event):
    notification = EMAIL_EVENTS[event.event_type]
    content = getattr(event, "mail", None)
    detail = content.subject_detail if content is not None else ""
    return SUBJECT_PREFIX + notification.name + (f": {detail}" if detail else "")


def body(event):
    notification = EMAIL_EVENTS[event.event_type]
    content = getattr(event, "mail", None)
    text = (content.body if content is not None else "") or event.message
    reason = getattr(event.account, "decision_reason", "") if event.account_id else ""
    if reason and event.event_type in ("account.request_rejected", "account.deactivated"):
        text += f"\n\nReason: {reason}"  # the guide: reasons go into the mail to the requester
    if notification.footer:
        text += f"\n\n{notification.footer}"
    return text


def mail_event(event):
    if event.event_type not in EMAIL_EVENTS:
        return
    addresses = recipients(event)
    if not addresses:
        return
    from core.mail import send_later

    content = getattr(event, "mail", None)
    attachments = content.attachments if content is not None else ()
    batches = [[address] for address in addresses] if EMAIL_EVENTS[event.event_type].one_each else [addresses]
    for batch in batches:
        send_later(subject(event), body(event), batch, attachments)
