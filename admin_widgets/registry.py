"""The widgets of the Administration workspace, in the order the grid shows them.

A widget joins the grid by adding one entry here once its pages exist; the grid shows the
entries the signed-in principal may open (the same action guards the widget's views, which
``tests/admin_widgets/test_admin_workspace.py`` checks for every entry).
"""
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.rbac import Action, can


@dataclass(frozen=True)
class Widget:
    title: str | Promise
    description: str | Promise
    url_name: str
    action: Action


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
]


def widgets_for(who):
    """The widgets ``who`` (a request or user) may open."""
    return [widget for widget in WIDGETS if can(who, widget.action)]
