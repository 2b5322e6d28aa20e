"""Reading a local account's event log (Manage Account > Event Log, Smart Licensing > Activity)."""

from accounts.rbac import Action, can, principal_for, visible_virtual_accounts
from core.models import Event


def visible_events(who, account):
    """The events of ``account`` that ``who`` may read, newest first.

    docs/rbac.md: account-wide roles (and System Admins / Operators) read the whole log; a role held
    only on some local virtual accounts reads only the events of those virtual accounts.
    """
    if not can(who, Action.VIEW_ACCOUNT, account=account):
        return Event.objects.none()
    events = Event.objects.filter(account=account).select_related("virtual_account")
    principal = principal_for(who)
    account_roles, _ = principal.grants(account)
    if principal.is_system_wide_admin or account_roles:
        return events
    return events.filter(virtual_account__in=visible_virtual_accounts(principal, account))
