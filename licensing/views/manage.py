"""Manage Account: General, Local Virtual Accounts and Event Log tabs."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.rbac import Action, can, visible_virtual_accounts
from core.errors import NotAllowed
from core.listing import Listing
from core.service_views import service_errors
from licensing.services import virtual_accounts as va_service
from licensing.services.event_log import visible_events

from ..forms import EventLogFilterForm, VirtualAccountForm
from .workspace import MANAGE_ACCOUNT_TABS, account_page, render_workspace, tab_bar


def render_tab(request, account, tab, template, context=None, status=200):
    page = {"manage_tabs": tab_bar(request, account, MANAGE_ACCOUNT_TABS, current=tab)}
    page.update(context or {})
    return render_workspace(request, template, page, account=account, section="manage", status=status)


def require(request, action, account, **scope):
    """The write actions: the account is visible (checked by @account_page), the action is not."""
    if not can(request, action, account=account, **scope):
        raise NotAllowed()


@account_page
def manage(request, account):
    return redirect("licensing_manage_general", account_id=account.pk)


@account_page
def general(request, account):
    return render_tab(request, account, "general", "licensing/manage/general.html")


# --- Local Virtual Accounts ---------------------------------------------------------------


@account_page
def virtual_accounts(request, account):
    vas = visible_virtual_accounts(request, account)
    # No default sort: the model's order keeps the Default first, then by name.
    table = Listing(request, vas, search=["name", "description"], sorts={"name": "name"})
    return render_tab(
        request,
        account,
        "virtual_accounts",
        "licensing/manage/virtual_accounts.html",
        {
            "table": table,
            "may_manage": can(request, Action.MANAGE_VIRTUAL_ACCOUNTS, account=account),
        },
    )


@account_page
@require_http_methods(["GET", "POST"])
def virtual_account_new(request, account):
    require(request, Action.MANAGE_VIRTUAL_ACCOUNTS, account)
    form = VirtualAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with service_errors(request, form):
            va = va_service.create_virtual_account(actor=request.user, account=account, **form.cleaned_data)
            messages.success(request, _("The local virtual account “%(name)s” was created.") % {"name": va.name})
            return redirect("licensing_manage_virtual_accounts", account_id=account.pk)
    return render_tab(
        request,
        account,
        "virtual_accounts",
        "licensing/manage/virtual_account_form.html",
        {"form": form, "virtual_account": None},
    )


def _virtual_account_or_404(account, va_id):
    # Looked up inside the account of the URL: another account's VA id is simply not found.
    return get_object_or_404(account.virtual_accounts, pk=va_id)


@account_page
@require_http_methods(["GET", "POST"])
def virtual_account_edit(request, account, va_id):
    """The rename dialog; for the Default one it is the guide's Star icon."""
    va = _virtual_account_or_404(account, va_id)
    require(request, Action.MANAGE_VIRTUAL_ACCOUNTS, account)
    form = VirtualAccountForm(request.POST or None, initial={"name": va.name, "description": va.description})
    form.fields["name"].label = _("New Name")
    if request.method == "POST" and form.is_valid():
        old_name = va.name
        with service_errors(request, form):
            va = va_service.rename_virtual_account(actor=request.user, virtual_account=va, **form.cleaned_data)
            messages.success(
                request,
                _("The local virtual account “%(old)s” was saved as “%(new)s”.") % {"old": old_name, "new": va.name},
            )
            return redirect("licensing_manage_virtual_accounts", account_id=account.pk)
    return render_tab(
        request,
        account,
        "virtual_accounts",
        "licensing/manage/virtual_account_form.html",
        {"form": form, "virtual_account": va},
    )


@account_page
@require_POST
def virtual_account_delete(request, account, va_id):
    va = _virtual_account_or_404(account, va_id)
    require(request, Action.MANAGE_VIRTUAL_ACCOUNTS, account)
    name = va.name
    with service_errors(request):
        va_service.delete_virtual_account(actor=request.user, virtual_account=va)
        messages.success(request, _("The local virtual account “%(name)s” was deleted.") % {"name": name})
    return redirect("licensing_manage_virtual_accounts", account_id=account.pk)


# --- Event Log --------------------------------------------------------------------------------


@account_page
def event_log(request, account):
    form = EventLogFilterForm(request.GET or None)
    form.is_valid()  # an invalid filter is shown with its error and not applied
    events = form.filter(visible_events(request, account))
    table = Listing(
        request,
        events,
        search=["message", "username"],
        sorts={"date": "created_at"},
        default_sort="-date",
        page_size=50,
    )
    return render_tab(request, account, "event_log", "licensing/manage/event_log.html", {"form": form, "table": table})
