"""Smart Licensing > Activity: two sub-tabs.

* License Transactions — the license lines (``Entitlement``) of the virtual accounts the user
  sees, in the guide's columns: Transaction Date, License SKU, License, Quantity, License
  Expiration, License Type, local Virtual Account, Source. Filters: virtual account, license
  type, source, date range (of the transaction), search (license, SKU, subscription, virtual
  account); every column sorts.
* Event Log — every event of the account the user may read (``visible_events``: an account-wide
  role reads the whole log, a role held only on some virtual accounts reads only theirs).
  Filters: virtual account, event type (by name), user, date range, search.

An invalid filter is shown with its error and left out; nothing about a bad value answers 500.
Each sub-tab exports the filtered rows (every page) to CSV.
"""

import datetime

from django import forms
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from accounts.rbac import visible_virtual_accounts
from core.csv_export import csv_response
from core.listing import Listing
from licensing.models import Entitlement
from licensing.services import inventory_queries
from licensing.services.event_log import visible_events
from licensing.services.inventory_queries import LICENSE_TRANSACTION_SEARCH, LICENSE_TRANSACTION_SORTS

from ..forms import EventLogFilterForm, start_of_day
from .workspace import account_page, render_workspace

SEARCH = ["message", "username", "virtual_account__name"]
PAGE_SIZE = 50


class ActivityFilterForm(EventLogFilterForm):
    """The Event Log filters plus a virtual account; ``types`` narrows the Event Type choices."""

    va = forms.ModelChoiceField(
        label=gettext_lazy("Virtual Account"),
        required=False,
        queryset=None,
        empty_label=gettext_lazy("All virtual accounts"),
    )

    field_order = ["va", "event_type", "user", "date_from", "date_to", "q"]

    def __init__(self, *args, virtual_accounts, types=None, **kwargs):
        super().__init__(*args, types=types, **kwargs)
        self.fields["va"].queryset = virtual_accounts

    def filter(self, events):
        events = super().filter(events)
        data = self.cleaned_data if self.is_bound else {}
        if data.get("va"):
            events = events.filter(virtual_account=data["va"])
        return events


class TransactionFilterForm(forms.Form):
    """License Transactions: virtual account, license type, source, date range, search."""

    va = forms.ModelChoiceField(
        label=gettext_lazy("Virtual Account"),
        required=False,
        queryset=None,
        empty_label=gettext_lazy("All virtual accounts"),
    )
    license_type = forms.ChoiceField(
        label=gettext_lazy("License Type"),
        required=False,
        choices=[("", gettext_lazy("All license types")), *Entitlement.LicenseType.choices],
    )
    source = forms.ChoiceField(
        label=gettext_lazy("Source"),
        required=False,
        choices=[("", gettext_lazy("All sources")), *Entitlement.Source.choices],
    )
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(
        label=gettext_lazy("Search"), required=False, max_length=200, widget=forms.TextInput(attrs={"type": "search"})
    )

    def __init__(self, *args, virtual_accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["va"].queryset = virtual_accounts

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", gettext_lazy("The end of the date range is before its start."))
        return data

    def filter(self, lines):
        data = self.cleaned_data if self.is_bound else {}
        if data.get("va"):
            lines = lines.filter(virtual_account=data["va"])
        if data.get("license_type"):
            lines = lines.filter(license_type=data["license_type"])
        if data.get("source"):
            lines = lines.filter(source=data["source"])
        if data.get("date_from"):
            lines = lines.filter(created_at__gte=start_of_day(data["date_from"]))
        if data.get("date_to"):
            lines = lines.filter(created_at__lt=start_of_day(data["date_to"] + datetime.timedelta(days=1)))
        return lines


def _transactions(request, account):
    """The bound filter form and the license lines of the visible virtual accounts it leaves."""
    vas = visible_virtual_accounts(request, account)
    form = TransactionFilterForm(request.GET or None, virtual_accounts=vas)
    form.is_valid()  # an invalid filter is shown with its error and not applied
    lines = form.filter(inventory_queries.license_transactions(vas))
    query = request.GET.get("q", "").strip()[:200]
    if query:
        condition = Q()
        for field in LICENSE_TRANSACTION_SEARCH:
            condition |= Q(**{f"{field}__icontains": query})
        lines = lines.filter(condition)
    return form, lines


SUB_TABS = {
    "transactions": (gettext_lazy("License Transactions"), "licensing_activity", "licensing_activity_transactions_csv"),
    "event_log": (gettext_lazy("Event Log"), "licensing_activity_event_log", "licensing_activity_event_log_csv"),
}


def _filtered(request, account, kind):
    """The bound filter form and the events it leaves, newest first, search applied."""
    vas = visible_virtual_accounts(request, account)
    form = ActivityFilterForm(request.GET or None, virtual_accounts=vas)
    form.is_valid()  # an invalid filter is shown with its error and not applied
    events = form.filter(visible_events(request, account))
    query = request.GET.get("q", "").strip()[:200]
    if query:
        condition = Q()
        for field in SEARCH:
            condition |= Q(**{f"{field}__icontains": query})
        events = events.filter(condition)
    return form, events.order_by("-created_at", "-id")


def _page(request, account, kind):
    # The search is already applied (the CSV shares it); Listing sorts and paginates.
    if kind == "transactions":
        form, lines = _transactions(request, account)
        table = Listing(request, lines, sorts=LICENSE_TRANSACTION_SORTS, default_sort="-date", page_size=PAGE_SIZE)
    else:
        form, events = _filtered(request, account, kind)
        table = Listing(request, events, sorts={"date": "created_at"}, default_sort="-date", page_size=PAGE_SIZE)
    params = request.GET.copy()
    params.pop("page", None)
    query = f"?{params.urlencode()}" if params else ""
    sub_tabs = [
        {"key": key, "label": label, "url": reverse(url_name, args=[account.pk]), "current": key == kind}
        for key, (label, url_name, _csv) in SUB_TABS.items()
    ]
    return render_workspace(
        request,
        "licensing/activity_transactions.html" if kind == "transactions" else "licensing/activity.html",
        {
            "form": form,
            "table": table,
            "kind": kind,
            "activity_tabs": sub_tabs,
            "csv_url": reverse(SUB_TABS[kind][2], args=[account.pk]) + query,
        },
        account=account,
        section="activity",
    )


def _transactions_csv(request, account, stamp):
    _form, lines = _transactions(request, account)
    table = Listing(request, lines, sorts=LICENSE_TRANSACTION_SORTS, default_sort="-date")
    lines = table.paginator.object_list  # every page, in the table's order

    def row(line):
        return [
            f"{timezone.localtime(line.created_at):%Y-%m-%d %H:%M:%S}",
            line.sku,
            line.license.name,
            line.quantity,
            line.end_date.isoformat() if line.end_date else "",
            line.get_license_type_display(),
            line.virtual_account.name,
            line.get_source_display(),
        ]

    return csv_response(
        f"license_transactions_{stamp}.csv",
        [
            "Transaction Date",
            "License SKU",
            "License",
            "Quantity",
            "License Expiration",
            "License Type",
            "Virtual Account",
            "Source",
        ],
        (row(line) for line in lines.iterator(chunk_size=500)),
    )


def _csv(request, account, kind):
    stamp = f"{timezone.now():%Y%m%d%H%M%S}"
    if kind == "transactions":
        return _transactions_csv(request, account, stamp)
    _form, events = _filtered(request, account, kind)

    def when(event):
        return f"{timezone.localtime(event.created_at):%Y-%m-%d %H:%M:%S}"

    def va_name(event):
        return event.virtual_account.name if event.virtual_account else ""

    events = events.iterator(chunk_size=500)
    return csv_response(
        f"event_log_{stamp}.csv",
        ["Date", "Virtual Account", "Event Type", "Severity", "Message", "User"],
        ([when(e), va_name(e), e.event_type, e.severity, e.message, e.username] for e in events),
    )


@account_page
@require_GET
def transactions(request, account):
    return _page(request, account, "transactions")


@account_page
@require_GET
def event_log(request, account):
    return _page(request, account, "event_log")


@account_page
@require_GET
def transactions_csv(request, account):
    return _csv(request, account, "transactions")


@account_page
@require_GET
def event_log_csv(request, account):
    return _csv(request, account, "event_log")
