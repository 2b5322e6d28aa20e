"""``/``, the account home page and the account picker."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.rbac import Action, can
from licensing.services.accounts import visible_accounts

from .workspace import (
    SESSION_ACCOUNT_KEY,
    SMART_LICENSING_TABS,
    account_page,
    account_pages,
    render_workspace,
    tab_bar,
    visible_account_or_404,
)


@login_required
def home(request):
    """Back to the account chosen last (if still visible), else the first visible one; a user
    with no account is told how to get one."""
    accounts = visible_accounts(request)
    remembered = request.session.get(SESSION_ACCOUNT_KEY)
    account = accounts.filter(pk=remembered).first() if isinstance(remembered, int) else None
    account = account or accounts.first()
    if account is not None:
        return redirect("licensing_account_home", account_id=account.pk)
    return render_workspace(request, "licensing/home.html", {"administration": administration_links(request, None)})


@account_page
def account_home(request, account):
    context = {
        "smart_licensing": tab_bar(request, account, SMART_LICENSING_TABS),
        "administration": administration_links(request, account),
    }
    return render_workspace(request, "licensing/home.html", context, account=account)


def administration_links(request, account):
    """The home page's Administration section."""
    links = [
        {
            "label": _("Request an Account"),
            "url": reverse("licensing_request_account"),
            "help": _("Ask for a new local account, tied to a Cisco Smart Account and Virtual Account."),
        },
        {
            "label": _("Request Access to an Existing Account"),
            "url": reverse("licensing_request_access"),
            "help": _("Ask an Account Administrator of an existing local account for access to it."),
        },
    ]
    if account is not None and can(request, Action.VIEW_ACCOUNT, account=account):
        links.append(
            {
                "label": _("Manage Account"),
                "url": reverse("licensing_manage_general", args=[account.pk]),
                "help": _("Local virtual accounts, users, access requests and the event log."),
            }
        )
    return links


@login_required
def choose_account(request):
    """The account picker's target: ``?account=<id>[&view=<url name of the page to stay on>]``."""
    try:
        account_id = int(request.GET.get("account", ""))
    except ValueError:
        raise Http404("No such local account.") from None
    account = visible_account_or_404(request, account_id)
    page, pages = request.GET.get("view", ""), account_pages()
    if page in pages and pages[page](request, account):
        return redirect(page, account_id=account.pk)
    return redirect("licensing_account_home", account_id=account.pk)
