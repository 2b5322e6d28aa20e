"""The widgets of the Administration workspace, in the order the grid shows them.

A widget joins the grid by adding one entry here once its pages exist; the grid shows the
entries the signed-in principal may open (the same action guards the widget's views, which
``tests/admin_widgets/test_admin_workspace.py`` checks for every entry).
"""

from dataclasses import dataclass
from typing import Callable

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.rbac import Action, can


@dataclass(frozen=True)
class Widget:
    title: str | Promise
    description: str | Promise
    url_name: str
    action: Action
    # Widgets the guide shows only when something exists (High Availability): asked at render time.
    available: Callable[[], bool] | None = None


def _ha_configured():
    from .ha.replication import is_configured

    return is_configured()


WIDGETS = [
    Widget(
        _("Users"),
        _("Create local users, choose their system role, disable, enable, remove them and reset passwords."),
        "admin_users",
        Action.MANAGE_USERS,
    ),
    Widget(
        _("Accounts"),
        _("Add new accounts, manage existing accounts and account requests, and view event logs for accounts."),
        "admin_accounts",
        Action.MANAGE_ACCOUNTS,
    ),
    Widget(
        _("Synchronization"),
        _(
            "Synchronize local accounts with Cisco Smart Software Manager now or manually, set the schedules and "
            "the data privacy, and view the synchronization history."
        ),
        "admin_sync",
        Action.MANAGE_SYNC,
    ),
    Widget(
        _("Access Management"),
        _("Configure LDAP, LDAP users and groups, OAuth2 ADFS and the SSO client."),
        "access_management",
        Action.VIEW_SYSTEM_CONFIG,
    ),
    Widget(
        _("Settings"),
        _("Messaging, syslog, language, email, time settings and the message of the day."),
        "admin_settings",
        Action.VIEW_SYSTEM_CONFIG,
    ),
    Widget(
        _("Security"),
        _("Auto lock and session limits, password rules and expiration, certificates, and the security event log."),
        "admin_security",
        Action.VIEW_SYSTEM_CONFIG,
    ),
    Widget(
        _("Network"),
        _("The host's names, DNS, gateways and interfaces, the SSM On-Prem name and the proxy to Cisco."),
        "admin_network",
        Action.VIEW_SYSTEM_CONFIG,
    ),
    Widget(
        _("API Toolkit"),
        _("Enable the API Console, create Client Credentials and Resource Owner grants, and set API access control."),
        "admin_api_toolkit",
        Action.MANAGE_API_GRANTS,
    ),
    Widget(
        _("Support Center"),
        _("View the server's logs live, search them, and download one or all of them."),
        "admin_support",
        Action.VIEW_LOGS,
    ),
    Widget(
        _("High Availability"),
        _("The status of the database replication cluster."),
        "admin_ha",
        Action.VIEW_HEALTH,
        available=_ha_configured,
    ),
]


def widgets_for(who):
    """The widgets ``who`` (a request or user) may open."""
    return [
        widget for widget in WIDGETS if can(who, widget.action) and (widget.available is None or widget.available())
    ]
