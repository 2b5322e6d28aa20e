"""The Licensing workspace shell: the local account in the URL, the account picker, the tab bars.

Which account a page is about is always in its URL (``/accounts/<id>/...``); the session only
remembers the last one so that ``/`` returns to it.

Not visible means not found: an account the principal may not view — no role on it, not
Active (requested, pending registration, deactivated, rejected), or no such id — answers
404 on every URL beneath ``/accounts/<id>/``, the same for all three, so a URL never reveals
that an account exists. 403 is kept for "you see this account but may not do that here".
"""

from dataclasses import dataclass
from functools import wraps
from typing import Callable

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.rbac import Action, can, grantable_roles
from accounts.roles import AccountRole
from licensing.models import LocalAccount
from licensing.services.accounts import visible_accounts

SESSION_ACCOUNT_KEY = "licensing_account_id"


def may(action):
    """A tab's rule: the principal may do ``action`` somewhere in the account."""
    return lambda request, account: can(request, action, account=account)


def decides_access_requests(request, account):
    """Access requests are decided by an Account Administrator (or a System Admin / Operator)."""
    return AccountRole.ACCOUNT_ADMIN in grantable_roles(request, account)


@dataclass(frozen=True)
class Tab:
    key: str
    label: str  # lazily translated
    url_name: str  # reversed with the account id only
    allowed: Callable = may(Action.VIEW_ACCOUNT)
    help: str = ""  # lazily translated; what the home page says under the tab's tile


# The Smart Licensing section: Alerts, Inventory, Convert to Smart Licensing, Reports,
# Preferences, Activity. Each is appended here when it is built, e.g.
#     SMART_LICENSING_TABS.append(Tab("inventory", _("Inventory"), "licensing_inventory", help=_("...")))
# and appears at once in the tab bar and on the home page; while the list is empty the
# section is not shown at all.
SMART_LICENSING_TABS: list[Tab] = []
SMART_LICENSING_TABS.append(
    Tab(
        "alerts",
        _("Alerts"),
        "licensing_alerts",
        help=_("Licenses in shortage, product instances that stopped connecting, expiring subscriptions."),
    )
)
SMART_LICENSING_TABS.append(
    Tab(
        "inventory",
        _("Inventory"),
        "licensing_inventory",
        help=_("Registration tokens, licenses and product instances of each local virtual account."),
    )
)
SMART_LICENSING_TABS.append(
    Tab(
        "conversion",
        _("Convert to Smart Licensing"),
        "licensing_conversion",
        help=_("Device Led Conversion of traditional licenses: its settings and history."),
    )
)
SMART_LICENSING_TABS.append(
    Tab(
        "reports",
        _("Reports"),
        "licensing_reports",
        help=_("Licenses, license subscriptions and product instances, on the page or as CSV or Excel."),
    )
)
SMART_LICENSING_TABS.append(
    Tab(
        "preferences",
        _("Preferences"),
        "licensing_preferences",
        may(Action.SET_PREFERENCES),
        help=_("Your own settings for the Licenses tab, and their change log."),
    )
)
SMART_LICENSING_TABS.append(
    Tab(
        "activity",
        _("Activity"),
        "licensing_activity",
        help=_("License transactions and the account's event log."),
    )
)

# Manage Account. User Groups and Custom Tags join this list when they are built.
MANAGE_ACCOUNT_TABS: list[Tab] = [
    Tab("general", _("General"), "licensing_manage_general"),
    Tab("virtual_accounts", _("Local Virtual Accounts"), "licensing_manage_virtual_accounts"),
    Tab("users", _("Users"), "licensing_manage_users"),
    Tab("custom_tags", _("Custom Tags"), "licensing_manage_custom_tags", may(Action.MANAGE_CUSTOM_TAGS)),
    Tab("access_requests", _("Access Requests"), "licensing_manage_access_requests", decides_access_requests),
    Tab("user_groups", _("User Groups"), "licensing_manage_user_groups", decides_access_requests),
    Tab("event_log", _("Event Log"), "licensing_manage_event_log"),
]

# Manage Account's own place in the workspace's tab bar, after the Smart Licensing section.
MANAGE_ACCOUNT = Tab("manage", _("Manage Account"), "licensing_manage_general")


def tab_bar(request, account, tabs, current=None):
    """The tabs of ``tabs`` this principal may open on ``account``, as template rows."""
    return [
        {
            "key": tab.key,
            "label": tab.label,
            "url": reverse(tab.url_name, args=[account.pk]),
            "current": tab.key == current,
            "help": tab.help,
        }
        for tab in tabs
        if tab.allowed(request, account)
    ]


def account_pages():
    """Pages that exist for every account, so the picker can switch account and stay on them."""
    return {"licensing_account_home": may(Action.VIEW_ACCOUNT)} | {
        tab.url_name: tab.allowed for tab in [*SMART_LICENSING_TABS, *MANAGE_ACCOUNT_TABS]
    }


def visible_account_or_404(request, account_id):
    """The local account ``account_id`` if this principal may view it; 404 otherwise (see above)."""
    account = LocalAccount.objects.filter(pk=account_id).first()
    if account is None or not can(request, Action.VIEW_ACCOUNT, account=account):
        raise Http404("No such local account.")
    return account


def remember_account(request, account):
    if request.session.get(SESSION_ACCOUNT_KEY) != account.pk:
        request.session[SESSION_ACCOUNT_KEY] = account.pk


def account_page(view):
    """For views under ``/accounts/<account_id>/``: signed in, the account visible, then
    ``view(request, account, ...)``; the account becomes the one ``/`` returns to."""

    @login_required
    @wraps(view)
    def wrapped(request, account_id, *args, **kwargs):
        account = visible_account_or_404(request, account_id)
        remember_account(request, account)
        return view(request, account, *args, **kwargs)

    return wrapped


def render_workspace(request, template, context=None, *, account=None, section=None, status=200):
    """Render a Licensing workspace page: the account picker in the top bar, and the tab bar
    (the Smart Licensing tabs and Manage Account; ``section`` the current tab's key) when the
    page is about an account."""
    url_name = getattr(request.resolver_match, "url_name", None)
    picker_current = account.pk if account is not None else request.session.get(SESSION_ACCOUNT_KEY)
    page = {
        "workspace": "licensing",
        "account": account,
        "picker_accounts": visible_accounts(request),
        "picker_current": picker_current,
        # The picker keeps the user on the same page of the newly chosen account.
        "picker_page": url_name if account is not None and url_name in account_pages() else "",
        "licensing_tabs": (
            tab_bar(request, account, [*SMART_LICENSING_TABS, MANAGE_ACCOUNT], section) if account is not None else []
        ),
    }
    page.update(context or {})
    return render(request, template, page, status=status)
