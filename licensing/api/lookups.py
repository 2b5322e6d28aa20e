"""Local accounts and virtual accounts named in the URL or the body: URL-decoded by Django,
matched exactly (case and spaces count), refused with the guide's 422 / 403 bodies.

An unknown name is 422 ("Failed to find ..."); a name that exists but is closed to the caller
(no role there, or an account that is not Active) is 403, as the guide's API answers.
"""

from accounts.rbac import Action, can, visible_virtual_accounts

from ..models import LocalAccount, VirtualAccount
from .replies import forbidden, unprocessable


def account_named(request, name, *, action=Action.VIEW_ACCOUNT, refusal=None):
    """The local account called ``name`` on which the caller may ``action`` (anywhere in it).

    ``refusal`` is the 403 text; ``{domain}`` in it is the account's domain (``account_domain``).
    """
    account = None
    if "\x00" not in name:  # no database stores NUL in text; no name holds one
        account = LocalAccount.objects.filter(name=name).exclude(status=LocalAccount.Status.REJECTED).first()
    if account is None:
        raise unprocessable(f"Failed to find local Account '{name}'.")
    if not can(request, action, account=account):
        if refusal is None:
            raise forbidden(f"Not Authorized to access local Account '{name}'.")
        raise forbidden(refusal.replace("{domain}", account_domain(account)))
    return account


def account_domain(account):
    """What the guide's refusals name ("{SA Domain Name}"): the account's domain (its Smart
    Account's), or its name when it has none."""
    return account.cisco_smart_account or account.name


def virtual_account_named(request, account, name, *, refusal=None):
    """A virtual account of ``account`` the caller may see; 422 unknown, 403 not theirs."""
    va = VirtualAccount.objects.filter(account=account, name=name).first() if "\x00" not in name else None
    if va is None:
        raise unprocessable(f"Failed to find Virtual Account '{name}'.")
    va.account = account  # already loaded: spare can() and the services a query
    if not can(request, Action.VIEW_ACCOUNT, account=account, virtual_account=va):
        raise forbidden(refusal or f"Not Authorized to access Virtual Account '{name}'.")
    return va


def require(request, action, va, message):
    if not can(request, action, account=va.account, virtual_account=va):
        raise forbidden(message)


def chosen_virtual_accounts(request, account, names, *, refusal):
    """The visible virtual accounts a list endpoint reports on, and the requested names left out.

    No names: every visible one. Names: those among them the caller may see; when none of
    them is, 403 with ``refusal`` (the guide's "Not Authorized to access ... for specified
    local Virtual Accounts").
    """
    visible = list(visible_virtual_accounts(request, account))
    for va in visible:
        va.account = account
    if not names:
        return visible, []
    wanted = set(names)
    chosen = [va for va in visible if va.name in wanted]
    if not chosen:
        raise forbidden(refusal)
    found = {va.name for va in chosen}
    return chosen, [name for name in dict.fromkeys(names) if name not in found]


def left_out_message(account, names):
    """The guide's 200 note for requested virtual accounts that were left out."""
    if not names:
        return ""
    return (
        f"The requested virtual account '{', '.join(names)}' doesn't belong to the account "
        f"'{account.name}'. Hence returning the response for eligible local Virtual Accounts."
    )
