"""Inventory > SL Using Policy: the product instances of the virtual account that report by Smart
Licensing Using Policy (CSLU pushes, RUM usage reports), their usage reports on the way to CSSM,
and "Synchronize usage information with CSSM"."""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.rbac import Action, can
from core.listing import Listing
from core.service_views import service_errors
from licensing.services import inventory_queries
from licensing.services import slp_usage as slp_service

from ..workspace import account_page
from .page import inventory_url, render_inventory, require, visible_virtual_account_or_404

SLP_SORTS = {
    "name": "hostname",
    "pid": "udi_pid",
    "sn": "udi_serial_number",
    "last_report": "last_report_at",
    "last_contact": "last_contact_at",
}
REPORT_SORTS = {
    "received": "received_at",
    "report_id": "report_id",
    "sent": "sent_at",
    "acknowledged": "synced_at",
}
VIEWS = ("product_instances", "reports")


def _product_instance_table(request, va):
    table = Listing(
        request,
        inventory_queries.slp_product_instances_of(va),
        search=["hostname", "udi_pid", "udi_serial_number"],
        sorts=SLP_SORTS,
        default_sort="-last_report",
    )
    summaries = inventory_queries.slp_report_summaries([pi.pk for pi in table.page]) if table.page else {}
    for pi in table.page:
        pi.usage = summaries.get(pi.pk)
    return table


def _report_table(request, va):
    return Listing(
        request,
        inventory_queries.usage_reports_of(va),
        search=["report_id", "product_instance__hostname", "product_instance__udi_serial_number"],
        sorts=REPORT_SORTS,
        default_sort="-received",
    )


@account_page
@require_GET
def sl_using_policy(request, account):
    view = request.GET.get("view")
    view = view if view in VIEWS else VIEWS[0]

    def tab(va):
        table = _product_instance_table(request, va) if view == "product_instances" else _report_table(request, va)
        return {
            "table": table,
            "view": view,
            "may_sync_usage": can(request, Action.SYNC_USAGE, account=account, virtual_account=va),
        }

    return render_inventory(request, account, "sl_using_policy", "licensing/inventory/sl_using_policy.html", tab)


@account_page
@require_POST
def sl_using_policy_sync(request, account, va_id):
    """Synchronize usage information with CSSM: the reports go in the next synchronization."""
    va = visible_virtual_account_or_404(request, account, va_id)
    require(request, Action.SYNC_USAGE, va)
    with service_errors(request):
        count = slp_service.request_usage_sync(actor=request.user, virtual_account=va)
        messages.success(
            request,
            ngettext(
                "%(count)d usage report will be sent to Cisco Smart Software Manager in the next synchronization.",
                "%(count)d usage reports will be sent to Cisco Smart Software Manager in the next synchronization.",
                count,
            )
            % {"count": count},
        )
    back = inventory_url("licensing_inventory_sl_using_policy", account, va)
    if request.POST.get("view") == "reports":
        back += "&view=reports"
    return redirect(back)


__all__ = ["sl_using_policy", "sl_using_policy_sync"]
