"""Inventory > Product Instances: the product instances of the virtual account (list, CSV
export), and the transfer of one to another virtual account or its removal."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.rbac import Action, can, visible_virtual_accounts
from core.csv_export import csv_response
from core.listing import Listing
from core.service_views import service_errors
from licensing.models import ProductInstance
from licensing.services import inventory_queries
from licensing.services import product_instances as pi_service
from licensing.services import reservations as reservation_service

from ...forms import ProductInstanceTransferForm
from ..workspace import account_page, render_workspace
from .page import (
    back_to_alerts,
    chosen_virtual_account,
    csv_name,
    csv_url,
    inventory_url,
    render_inventory,
    require,
    transfer_targets_or_403,
)

PRODUCT_INSTANCE_SORTS = {
    "name": "hostname",
    "product": "product_name",
    "pid": "udi_pid",
    "sn": "udi_serial_number",
    "last_contact": "last_contact_at",
    "registered": "registered_at",
    "role": "redundancy_role",
}


def product_instance_table(request, va):
    return Listing(
        request,
        inventory_queries.product_instances_of(va),
        search=["hostname", "product_name", "udi_pid", "udi_serial_number"],
        sorts=PRODUCT_INSTANCE_SORTS,
        default_sort="name",
    )


def _with_reserved(table):
    """The page's product instances, each with ``reserved`` (licenses reserved for it): one query."""
    page = table.page
    page.object_list = list(page.object_list)
    reserved = reservation_service.reserved_by_instance([pi.pk for pi in page.object_list])
    for pi in page.object_list:
        pi.reserved = reserved.get(pi.pk, 0)
    return table


@account_page
@require_GET
def product_instances(request, account):
    return render_inventory(
        request,
        account,
        "product_instances",
        "licensing/inventory/product_instances.html",
        lambda va: {
            "table": _with_reserved(product_instance_table(request, va)),
            "may_remove": can(request, Action.REMOVE_PRODUCT_INSTANCES, account=account, virtual_account=va),
            "may_reserve": can(request, Action.RESERVE_LICENSES, account=account, virtual_account=va),
            "csv_url": csv_url(request, "licensing_inventory_product_instances_csv", account, va),
        },
    )


@account_page
@require_GET
def product_instances_csv(request, account):
    vas = list(visible_virtual_accounts(request, account))
    va = chosen_virtual_account(request, account, vas)
    if va is None:
        raise Http404("No local virtual account.")
    table = product_instance_table(request, va)
    queryset = table.paginator.object_list
    roles = dict(ProductInstance.RedundancyRole.choices)

    def when(value):
        return value.isoformat() if value else ""

    return csv_response(
        csv_name("product_instances", va),
        [
            "Name",
            "Hostname",
            "Product",
            "UDI PID",
            "UDI SN",
            "Last Contact",
            "Registration Date",
            "Redundancy Role",
            "Redundancy Group",
        ],
        (
            [
                pi.display_name,
                pi.hostname,
                pi.product_name,
                pi.udi_pid,
                pi.udi_serial_number,
                when(pi.last_contact_at),
                when(pi.registered_at),
                roles.get(pi.redundancy_role, pi.redundancy_role),
                pi.redundancy_group,
            ]
            for pi in queryset.iterator(chunk_size=500)
        ),
    )


def _product_instance_or_404(request, account, pi_id):
    """A product instance of a virtual account of ``account`` that the principal may see; 404 otherwise."""
    pi = get_object_or_404(inventory_queries.product_instances_in(visible_virtual_accounts(request, account)), pk=pi_id)
    pi.virtual_account.account = account
    return pi


@account_page
@require_http_methods(["GET", "POST"])
def product_instance_transfer(request, account, pi_id):
    pi = _product_instance_or_404(request, account, pi_id)
    va = pi.virtual_account
    back_url = inventory_url("licensing_inventory_product_instances", account, va)
    form = ProductInstanceTransferForm(request.POST or None, targets=transfer_targets_or_403(request, account, va))
    if request.method == "POST" and form.is_valid():
        to_va = form.cleaned_data["to_virtual_account"]
        with service_errors(request, form):
            result = pi_service.transfer_product_instance(actor=request.user, pi=pi, to_va=to_va)
            messages.success(
                request,
                _("The product instance “%(pi)s” was transferred to the local virtual account “%(to)s”.")
                % {"pi": pi.display_name, "to": to_va.name},
            )
            for name, quantity in result.restricted_moved:
                messages.info(
                    request,
                    _("%(quantity)s export-restricted “%(license)s” licenses moved with it.")
                    % {"quantity": quantity, "license": name},
                )
            if result.shortages:
                messages.warning(
                    request,
                    _("License shortage: the local virtual account “%(to)s” is now Out Of Compliance for %(licenses)s.")
                    % {"to": to_va.name, "licenses": ", ".join(f"“{n}”" for n in result.shortages)},
                )
            return redirect(back_url)
    return render_workspace(
        request,
        "licensing/inventory/product_instance_transfer.html",
        {
            "form": form,
            "virtual_account": va,
            "product_instance": pi,
            "back_url": back_url,
        },
        account=account,
        section="inventory",
    )


@account_page
@require_POST
def product_instance_remove(request, account, pi_id):
    pi = _product_instance_or_404(request, account, pi_id)
    va = pi.virtual_account
    require(request, Action.REMOVE_PRODUCT_INSTANCES, va)
    name = pi.display_name
    with service_errors(request):
        pi_service.remove_product_instance(actor=request.user, pi=pi)
        messages.success(
            request, _("The product instance “%(pi)s” was removed; its licenses were released.") % {"pi": name}
        )
    return redirect(
        back_to_alerts(request, account) or inventory_url("licensing_inventory_product_instances", account, va)
    )
