"""Inventory > Event Log: the events of one local virtual account ("Event Log messages specific to
each local Virtual Account are accessed from the Inventory tab"), with the filters and the CSV of
Activity > Event Log (Event Type by name, User, Date Range, search)."""

from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.rbac import visible_virtual_accounts
from core.csv_export import csv_response
from core.listing import Listing
from licensing.services.event_log import visible_events

from ...forms import EventLogFilterForm
from ..workspace import account_page
from .page import chosen_virtual_account, csv_name, csv_url, render_inventory

SEARCH = ["message", "username"]
PAGE_SIZE = 50


def _events(request, va):
    """The bound filter form and the virtual account's events it leaves, newest first."""
    form = EventLogFilterForm(request.GET or None)
    form.is_valid()  # an invalid filter is shown with its error and not applied
    events = form.filter(visible_events(request, va.account).filter(virtual_account=va))
    query = request.GET.get("q", "").strip()[:200]
    if query:
        condition = Q()
        for field in SEARCH:
            condition |= Q(**{f"{field}__icontains": query})
        events = events.filter(condition)
    return form, events.order_by("-created_at", "-id")


@account_page
@require_GET
def event_log(request, account):
    def tab(va):
        form, events = _events(request, va)
        table = Listing(request, events, sorts={"date": "created_at"}, default_sort="-date", page_size=PAGE_SIZE)
        return {
            "form": form,
            "table": table,
            "csv_url": csv_url(request, "licensing_inventory_event_log_csv", account, va),
        }

    return render_inventory(request, account, "event_log", "licensing/inventory/event_log.html", tab)


@account_page
@require_GET
def event_log_csv(request, account):
    va = chosen_virtual_account(request, account, list(visible_virtual_accounts(request, account)))
    if va is None:
        raise Http404("No local virtual account.")
    va.account = account
    _form, events = _events(request, va)

    def when(event):
        return f"{timezone.localtime(event.created_at):%Y-%m-%d %H:%M:%S}"

    return csv_response(
        csv_name("event_log", va),
        ["Date", "Virtual Account", "Event Type", "Severity", "Message", "User"],
        ([when(e), va.name, e.event_type, e.severity, e.message, e.username] for e in events.iterator(chunk_size=500)),
    )
