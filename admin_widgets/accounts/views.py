"""Accounts widget pages: the Accounts, Account Requests and Event Log tabs.

Each action view checks the input, calls one service of ``licensing.services.accounts`` and
reports the outcome; a refused change (ServiceError) writes nothing and is shown, a forbidden
one (NotAllowed) answers 403. Activation of a Pending Registration account is not offered here:
it is the outcome of registration with Cisco Smart Software Manager.
"""

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import requires
from accounts.rbac import Action
from core.csv_export import csv_response
from core.listing import Listing
from core.models import Event
from core.service_views import service_errors
from licensing.models import LocalAccount
from licensing.services import accounts as account_service

from .forms import AccountEventFilterForm, NewAccountForm, ReasonForm, RequestFilterForm

Status = LocalAccount.Status

# The Accounts tab lists accounts past the request stage; requests have their own tab.
ACCOUNT_STATUSES = [Status.PENDING_REGISTRATION, Status.ACTIVE, Status.DEACTIVATED]
ACCOUNT_SEARCH = ["name", "cisco_smart_account", "cisco_virtual_account", "description"]
ACCOUNT_SORTS = {
    "name": "name",
    "smart_account": "cisco_smart_account",
    "virtual_account": "cisco_virtual_account",
    "status": "status",
    "created": "created_at",
}
REQUEST_SEARCH = [
    "name",
    "cisco_smart_account",
    "cisco_virtual_account",
    "requester_email",
    "message_to_creator",
    "requested_by__username",
]
REQUEST_SORTS = {
    "name": "name",
    "requester": "requested_by__username",
    "email": "requester_email",
    "smart_account": "cisco_smart_account",
    "virtual_account": "cisco_virtual_account",
    "date": "created_at",
}
EVENT_SEARCH = ["message", "username", "event_type", "account__name"]
EVENT_SORTS = {"time": "created_at", "type": "event_type", "account": "account__name", "user": "username"}

TABS = [
    ("accounts", gettext_lazy("Accounts"), "admin_accounts"),
    ("requests", gettext_lazy("Account Requests"), "admin_account_requests"),
    ("events", gettext_lazy("Event Log"), "admin_account_events"),
]


def _page(request, template, current, **context):
    tabs = [{"label": label, "url": reverse(url_name), "current": key == current} for key, label, url_name in TABS]
    return render(
        request,
        f"admin_widgets/accounts/{template}",
        {
            "workspace": "admin",
            "account_tabs": tabs,
            "current_tab": current,
            **context,
        },
    )


def _stamp():
    return f"{timezone.now():%Y%m%d%H%M%S}"


def _when(value):
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S}" if value else ""


# --- Accounts tab ----------------------------------------------------------------------------


def _accounts_table(request):
    queryset = LocalAccount.objects.filter(status__in=ACCOUNT_STATUSES)
    return Listing(request, queryset, search=ACCOUNT_SEARCH, sorts=ACCOUNT_SORTS, default_sort="name")


@requires(Action.MANAGE_ACCOUNTS)
@require_GET
def account_list(request):
    return _page(request, "accounts.html", "accounts", table=_accounts_table(request), Status=Status)


@requires(Action.MANAGE_ACCOUNTS)
@require_GET
def account_csv(request):
    table = _accounts_table(request)
    rows = (
        (
            a.name,
            a.cisco_smart_account,
            a.cisco_virtual_account,
            a.get_status_display(),
            a.description,
            _when(a.created_at),
        )
        for a in table.paginator.object_list.iterator()
    )
    return csv_response(
        f"local_accounts_{_stamp()}.csv",
        [
            _("Local Account Name"),
            _("Cisco Smart Account"),
            _("Cisco Virtual Account"),
            _("Status"),
            _("Description"),
            _("Created"),
        ],
        rows,
    )


@requires(Action.MANAGE_ACCOUNTS)
@require_http_methods(["GET", "POST"])
def account_create(request):
    form = NewAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with service_errors(request, form):
            account = account_service.create_account(
                actor=request.user,
                name=data["name"],
                cisco_smart_account=data["cisco_smart_account"],
                cisco_virtual_account=data["cisco_virtual_account"],
                description=data["description"],
            )
            messages.success(
                request,
                _(
                    "The local account “%(name)s” was created and is ready to be registered "
                    "with Cisco Smart Software Manager."
                )
                % {"name": account.name},
            )
            return redirect("admin_accounts")
    return _page(request, "create.html", "accounts", form=form)


@requires(Action.MANAGE_ACCOUNTS)
@require_POST
def account_deactivate(request, pk):
    account = get_object_or_404(LocalAccount, pk=pk)
    reason = _reason(request)
    if reason is not None:
        with service_errors(request):
            account_service.deactivate_account(actor=request.user, account=account, reason=reason)
            messages.success(request, _("The local account “%(name)s” was deactivated.") % {"name": account.name})
    return redirect(_back_to(request, "admin_accounts"))


@requires(Action.MANAGE_ACCOUNTS)
@require_POST
def account_activate(request, pk):
    account = get_object_or_404(LocalAccount, pk=pk)
    if account.status != Status.DEACTIVATED:
        # Pending Registration becomes Active through registration with CSSM, not from here.
        messages.error(
            request,
            _("Only a deactivated local account can be activated here; “%(name)s” is %(status)s.")
            % {"name": account.name, "status": account.get_status_display()},
        )
        return redirect(_back_to(request, "admin_accounts"))
    reason = request.POST.get("reason", "").strip()[: ReasonForm.base_fields["reason"].max_length]
    with service_errors(request):
        account_service.activate_account(actor=request.user, account=account, reason=reason)
        messages.success(request, _("The local account “%(name)s” was activated.") % {"name": account.name})
    return redirect(_back_to(request, "admin_accounts"))


# --- Account Requests tab ----------------------------------------------------------------------


def _requests_table(request):
    status = RequestFilterForm(request.GET).status_value()
    queryset = LocalAccount.objects.filter(status=status).select_related("requested_by")
    return status, Listing(request, queryset, search=REQUEST_SEARCH, sorts=REQUEST_SORTS, default_sort="-date")


@requires(Action.MANAGE_ACCOUNTS)
@require_GET
def request_list(request):
    status, table = _requests_table(request)
    return _page(
        request,
        "requests.html",
        "requests",
        table=table,
        status=status,
        Status=Status,
        reason_max=ReasonForm.base_fields["reason"].max_length,
    )


@requires(Action.MANAGE_ACCOUNTS)
@require_GET
def request_csv(request):
    status, table = _requests_table(request)
    rows = (
        (
            a.name,
            a.requested_by.username if a.requested_by else "",
            a.requester_email,
            a.message_to_creator,
            a.cisco_smart_account,
            a.cisco_virtual_account,
            a.get_status_display(),
            _when(a.created_at),
            a.decision_reason,
        )
        for a in table.paginator.object_list.iterator()
    )
    return csv_response(
        f"account_requests_{status}_{_stamp()}.csv",
        [
            _("Local Account Name"),
            _("Requester"),
            _("Email"),
            _("Message to Creator"),
            _("Cisco Smart Account"),
            _("Cisco Virtual Account"),
            _("Status"),
            _("Request Date"),
            _("Reason"),
        ],
        rows,
    )


@requires(Action.MANAGE_ACCOUNTS)
@require_POST
def request_approve(request, pk):
    account = get_object_or_404(LocalAccount, pk=pk)
    with service_errors(request):
        account_service.approve_account_request(actor=request.user, account=account)
        messages.success(
            request,
            _(
                "The request for “%(name)s” was approved; the local account is waiting for "
                "registration with Cisco Smart Software Manager."
            )
            % {"name": account.name},
        )
    return redirect(_back_to(request, "admin_account_requests"))


@requires(Action.MANAGE_ACCOUNTS)
@require_POST
def request_reject(request, pk):
    account = get_object_or_404(LocalAccount, pk=pk)
    reason = _reason(request)
    if reason is not None:
        with service_errors(request):
            account_service.reject_account_request(actor=request.user, account=account, reason=reason)
            messages.success(request, _("The request for “%(name)s” was rejected.") % {"name": account.name})
    return redirect(_back_to(request, "admin_account_requests"))


# --- Event Log tab ----------------------------------------------------------------------------------


def _events_table(request):
    base = Event.objects.filter(Q(account__isnull=False) | Q(event_type__startswith="account."))
    form = AccountEventFilterForm(
        request.GET if any(key in request.GET for key in ("account", "event_type", "date_from", "date_to")) else None,
        accounts=LocalAccount.objects.order_by("name", "pk").values_list("pk", "name"),
        event_types=base.order_by("event_type").values_list("event_type", flat=True).distinct(),
    )
    events = form.filter(base).select_related("account")
    return form, Listing(request, events, search=EVENT_SEARCH, sorts=EVENT_SORTS, default_sort="-time")


@requires(Action.MANAGE_ACCOUNTS)
@require_GET
def event_list(request):
    form, table = _events_table(request)
    return _page(request, "events.html", "events", table=table, form=form)


@requires(Action.MANAGE_ACCOUNTS)
@require_GET
def event_csv(request):
    _form, table = _events_table(request)
    rows = (
        (_when(e.created_at), e.account.name if e.account else "", e.event_type, e.severity, e.username, e.message)
        for e in table.paginator.object_list.iterator()
    )
    return csv_response(
        f"account_events_{_stamp()}.csv",
        [_("Time"), _("Local Account"), _("Event Type"), _("Severity"), _("User"), _("Message")],
        rows,
    )


# --- Shared ----------------------------------------------------------------------------------------


def _reason(request):
    """The reason the action needs; None (and its errors as messages) if missing or too long."""
    form = ReasonForm(request.POST)
    if not form.is_valid():
        for error in form.errors["reason"]:
            messages.error(request, _("Reason: %(error)s") % {"error": error})
        return None
    return form.cleaned_data["reason"].strip()


def _back_to(request, table):
    """The tab ``table`` with the search, filter, sort and page the action was started from."""
    url = reverse(table)
    target = request.POST.get("next", "")
    if target.split("?")[0] == url and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return target
    return url
