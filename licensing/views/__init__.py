"""The Licensing workspace: the shell (``workspace``), the home page and account picker
(``home``), the Administration section's requests (``requests``) and Manage Account
(``manage``, ``members``)."""

from .home import account_home, choose_account, home
from .manage import (
    event_log,
    general,
    manage,
    virtual_account_delete,
    virtual_account_edit,
    virtual_account_new,
    virtual_accounts,
)
from .members import access_request_decide, access_requests, grant_remove, user_add, users, users_csv
from .requests import request_access, request_account

__all__ = [
    "access_request_decide",
    "access_requests",
    "account_home",
    "choose_account",
    "event_log",
    "general",
    "grant_remove",
    "home",
    "manage",
    "request_access",
    "request_account",
    "user_add",
    "users",
    "users_csv",
    "virtual_account_delete",
    "virtual_account_edit",
    "virtual_account_new",
    "virtual_accounts",
]
