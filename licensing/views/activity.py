"""Smart Licensing > Activity: two sub-tabs over the account's event log.

* License Transactions — the events that move licenses: transferred (both sides), added,
  removed, expired, and export keys. The guide's columns (SKU, quantity, expiration, type,
  source) are not carried by an event row, so the table shows what the events do carry:
  date, virtual account, message (which names tag, count and type) and user.
* Event Log — every event of the account the user may read.

Both read ``visible_events``: an account-wide role reads the whole log, a role held only on
some virtual accounts reads only theirs. Filters: virtual account (among the visible ones),
event type, user, date range, search. An invalid filter is shown with its error and left out;
nothing about a bad value answers 500. Each sub-tab exports the filtered rows (every page) to CSV.
"""

from django import forms
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from accounts.rbac import visible_virtual_accounts
from core.csv_export import csv_response
from core.events.messages import CATALOGUE
from core.listing import Listing
from licensing.services.event_log import visible_events

from ..forms import EventLogFilterForm
from .workspace import account_page, render_workspace

# The event types of License Transactions, by prefix, so a new variant (singular, with a
# subscription, the receiving side "_in") is included as soon as the catalogue has it.
TRANSACTION_PREFIXES = (
    "license.transferred",
    "license.added",
    "license.removed",
    "license.expired",
    "license.export",
)
TRANSACTION_TYPES = frozenset(code for code in CATALOGUE if code.startswith(TRANSACTION_PREFIXES))

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


SUB_TABS = {
    "transactions": (gettext_lazy("License Transactions"), "licensing_activity", "licensing_activity_transactions_csv"),
    "event_log": (gettext_lazy("Event Log"), "licensing_activity_event_log", "licensing_activity_event_log_csv"),
}


def _filtered(request, account, kind):
    """The bound filter form and the events it leaves, newest first, search applied."""
    vas = visible_virtual_accounts(request, account)
    types = TRANSACTION_TYPES if kind == "transactions" else None
    form = ActivityFilterForm(request.GET or None, virtual_accounts=vas, types=types)
    form.is_valid()  # an invalid filter is shown with its error and not applied
    events = visible_events(request, account)
    if types is not None:
        events = events.filter(event_type__in=types)
    events = form.filter(events)
    query = request.GET.get("q", "").strip()[:200]
    if query:
        condition = Q()
        for field in SEARCH:
            condition |= Q(**{f"{field}__icontains": query})
        events = events.filter(condition)
    return form, events.order_by("-created_at", "-id")


def _page(request, account, kind):
    form, events = _filtered(request, account, kind)
    # The search is already applied (the CSV shares it); Listing sorts and paginates.
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
        "licensing/activity.html",
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


def _csv(request, account, kind):
    _form, events = _filtered(request, account, kind)
    stamp = f"{timezone.now():%Y%m%d%H%M%S}"

    def when(event):
        return f"{timezone.localtime(event.created_at):%Y-%m-%d %H:%M:%S}"

    def va_name(event):
        return event.virtual_account.name if event.virtual_account else ""

    events = events.iterator(chunk_size=500)
    if kind == "transactions":
        return csv_response(
            f"license_transactions_{stamp}.csv",
            ["Transaction Date", "Virtual Account", "Event Type", "Message", "User"],
            ([when(e), va_name(e), e.event_type, e.message, e.username] for e in events),
        )
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
