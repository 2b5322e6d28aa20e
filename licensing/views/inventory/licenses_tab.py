"""Inventory > Licenses: the compliance table of the virtual account (search by name or by tag,
the transaction details and their Advanced Search, the usage chart, CSV export) and the
transfer of licenses to another virtual account."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts.rbac import Action, can, visible_virtual_accounts
from core.csv_export import csv_response
from core.errors import NotAllowed
from core.service_views import service_errors
from licensing.models import LicenseDefinition
from licensing.services import assignments, compliance, inventory_queries, ports
from licensing.services import transfers as transfer_service

from ...forms import BulkTransferForm, LicenseTransferForm
from .. import charts
from ..preferences import transaction_details_enabled
from ..row_listing import RowListing
from ..workspace import account_page, render_workspace
from .page import (
    back_to_alerts,
    chosen_virtual_account,
    csv_name,
    csv_url,
    inventory_url,
    render_inventory,
    transfer_targets,
    transfer_targets_or_403,
    visible_virtual_account_or_404,
)

LICENSE_SORTS = {
    "license": lambda r: r["license"].casefold(),
    "billing": lambda r: r["billing"],
    "purchased": lambda r: r["purchased"],
    "in_use": lambda r: r["in_use"],
    "balance": lambda r: r["balance"],
    "status": lambda r: r["status"],
}


class AdvancedSearchForm(forms.Form):
    """The guide's Advanced Search: Product Family (type ahead), License or Product SKU (exact match),
    Expires By ("any license that has an expiration date on or before the selected" date)."""

    family = forms.CharField(label=gettext_lazy("Product Family"), max_length=255, required=False)
    sku = forms.CharField(label=gettext_lazy("License or Product SKU"), max_length=100, required=False)
    expires_by = forms.DateField(
        label=gettext_lazy("Expires By"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def criteria(self):
        return {k: v for k, v in self.cleaned_data.items() if v} if self.is_valid() else {}


def license_table(request, va, *, show_transactions=False, advanced=None):
    """The Licenses table: search "By Name" (default) or "By Tag" (``by=tag``); with transaction
    details on, each row carries its lines and tags, and the Advanced Search filters by its lines."""
    rows = inventory_queries.license_rows(va)
    search = lambda r: r["license"]  # noqa: E731
    query = request.GET.get("q", "").strip()[:200]
    if request.GET.get("by") == "tag":
        search = None
        if query:
            tagged = inventory_queries.license_ids_tagged(va.account_id, query)
            rows = [r for r in rows if r["license_id"] in tagged]
    if show_transactions:
        criteria = advanced.criteria() if advanced is not None else {}
        lines = inventory_queries.transaction_lines(va, criteria, timezone.now().date())
        if criteria:
            rows = [r for r in rows if r["license_id"] in lines]
        tags = inventory_queries.license_tags(va.account, [r["license_id"] for r in rows]) if rows else {}
        for row in rows:
            row["lines"] = lines.get(row["license_id"], [])
            row["tags"] = tags.get(row["license_id"], [])
    return RowListing(request, rows, search=search, sorts=LICENSE_SORTS, default_sort="license")


def licenses_view_options(request, account):
    """(transaction details allowed by the preference, shown now, the Advanced Search form or None)."""
    allowed = transaction_details_enabled(request, account)
    shown = allowed and request.GET.get("tx") == "1"
    advanced = AdvancedSearchForm(request.GET) if shown else None
    return allowed, shown, advanced


def substitution_text(row):
    return "; ".join(f"{s['type']}: {s['quantity']} × {s['license']}" for s in row["substitutions"])


def license_bars(account, va, rows):
    """The Licenses tab's chart: one usage bar per license of the table's current page (in memory)."""
    return charts.usage_bars(
        [
            (
                row["license"],
                reverse("licensing_license_detail", args=[account.pk, va.pk, row["license_id"]]),
                compliance.LicensePosition(
                    virtual_account_id=va.pk,
                    virtual_account=va.name,
                    license_id=row["license_id"],
                    license=row["license"],
                    entitlement_tag=row["entitlement_tag"],
                    purchased=row["purchased"],
                    in_use=row["in_use"],
                    reserved=row["reserved"],
                    borrowed=row["borrowed"],
                    lent=row["lent"],
                ),
            )
            for row in rows
        ]
    )


@account_page
@require_GET
def licenses(request, account):
    allowed, shown, advanced = licenses_view_options(request, account)

    def tab(va):
        table = license_table(request, va, show_transactions=shown, advanced=advanced)
        may_manage_tags = can(request, Action.MANAGE_LICENSE_TAGS, account=account, virtual_account=va)
        for row in table.page:
            row["held"] = row["purchased"] > 0 or row["pending"] > 0
        return {
            "may_manage_tags": may_manage_tags,
            # "By Tag": the account's tag names to choose from (one query).
            "license_tag_names": inventory_queries.license_tag_names(account),
            "table": table,
            "bars": license_bars(account, va, table.page),
            "transactions_allowed": allowed,
            "show_transactions": shown,
            "advanced": advanced,
            "search_by": request.GET.get("by", "name"),
            "csv_url": csv_url(request, "licensing_inventory_licenses_csv", account, va),
            # Licenses held from more than one subscription: Change Virtual Account Assignment.
            "duplicates": assignments.duplicate_license_ids(va),
            # Portable licenses (CSSM names what they port to): the row action Port (one query).
            "port_ids": set(ports.portable_targets(account, [row["license_id"] for row in table.page]))
            if can(request, Action.TRANSFER, account=account, virtual_account=va, to_virtual_account=va)
            else set(),
        }

    return render_inventory(request, account, "licenses", "licensing/inventory/licenses.html", tab)


@account_page
@require_GET
def licenses_csv(request, account):
    vas = list(visible_virtual_accounts(request, account))
    va = chosen_virtual_account(request, account, vas)
    if va is None:
        raise Http404("No local virtual account.")
    va.account = account
    _, shown, advanced = licenses_view_options(request, account)
    table = license_table(request, va, show_transactions=shown, advanced=advanced)
    return csv_response(
        csv_name("licenses", va),
        [
            "License",
            "Entitlement Tag",
            "Billing",
            "Purchased",
            "Pending",
            "In Use",
            "Reserved",
            "Borrowed",
            "Lent",
            "Substitution",
            "Balance",
            "Status",
        ],
        (
            [
                r["license"],
                r["entitlement_tag"],
                r["billing"],
                r["purchased"],
                r["pending"],
                r["in_use"],
                r["reserved"],
                r["borrowed"],
                r["lent"],
                substitution_text(r),
                r["balance"],
                r["status"],
            ]
            for r in table.rows
        ),
    )


@account_page
@require_http_methods(["GET", "POST"])
def license_transfer(request, account, va_id, license_id):
    """Transfer licenses of one license: "Preview" shows the before/after balances (nothing kept),
    "Transfer" moves them."""
    va = visible_virtual_account_or_404(request, account, va_id)
    license = get_object_or_404(LicenseDefinition, pk=license_id)
    back_url = back_to_alerts(request, account) or inventory_url("licensing_inventory_licenses", account, va)
    targets = transfer_targets_or_403(request, account, va)
    # Opened from an alert's Transfer Licenses: destination and quantity pre-filled (?to=, ?quantity=).
    initial = {"to_virtual_account": request.GET.get("to", ""), "quantity": request.GET.get("quantity", "")}
    form = LicenseTransferForm(request.POST or None, targets=targets, initial=initial)
    # The figures and the guide's greyed-out Transfer / Preview; the service still refuses on its own.
    limits = transfer_service.transfer_limits(from_va=va, license=license)
    if limits.transferable > 0:
        form.fields["quantity"].widget.attrs["max"] = limits.transferable
    preview = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        arguments = {
            "actor": request.user,
            "from_va": va,
            "to_va": data["to_virtual_account"],
            "license": license,
            "quantity": data["quantity"],
            "precedence": data["precedence"],
        }
        with service_errors(request, form):
            if "preview" in request.POST:
                preview = transfer_service.preview_transfer(**arguments)
            else:
                result = transfer_service.transfer_licenses(**arguments)
                messages.success(
                    request,
                    _("%(quantity)s “%(license)s” licenses were transferred to the local virtual account “%(to)s”.")
                    % {"quantity": result.quantity, "license": license.name, "to": data["to_virtual_account"].name},
                )
                if result.notice:
                    messages.info(request, result.notice)
                return redirect(back_url)
    return render_workspace(
        request,
        "licensing/inventory/license_transfer.html",
        {
            "form": form,
            "virtual_account": va,
            "license": license,
            "preview": preview,
            "limits": limits,
            "to_virtual_account": form.cleaned_data.get("to_virtual_account") if preview else None,
            "back_url": back_url,
            "from_url": f"{reverse('licensing_license_bulk_transfer', args=[account.pk, va.pk])}"
            f"?direction=from&license={license.pk}",
        },
        account=account,
        section="inventory",
    )


TO, FROM = "to", "from"


def transfer_sources(request, account, va, vas=None):
    """The virtual accounts, other than ``va``, this principal may transfer licenses from into ``va``."""
    if vas is None:
        vas = list(visible_virtual_accounts(request, account))
    sources = []
    for other in vas:
        if other.pk != va.pk and can(
            request, Action.TRANSFER, account=account, virtual_account=other, to_virtual_account=va
        ):
            other.account = account
            sources.append(other)
    return sources


def _bulk_licenses(data):
    """The licenses named by ``license`` (the checked rows): (licenses by name, problem)."""
    raw = data.getlist("license")
    ids = {int(value) for value in raw if value.isdigit()}
    if not ids or len(ids) != len(raw):
        return [], _("Select at least one license in the Licenses table.")
    licenses = list(LicenseDefinition.objects.filter(pk__in=ids).order_by("name", "pk"))
    if len(licenses) != len(ids):
        return [], _("A selected license does not exist.")
    return licenses, None


@account_page
@require_http_methods(["GET", "POST"])
def license_bulk_transfer(request, account, va_id):
    """Available Actions > Transfer Licenses…: the licenses checked in the Licenses table, to
    (``direction=to``, the default) or from (``direction=from``) one other virtual account, a
    quantity each. "Preview" shows per license the before/after Purchased and Available of both
    virtual accounts (read only); "Transfer", offered once a preview has no refusal, moves them
    all in one transaction or none."""
    va = visible_virtual_account_or_404(request, account, va_id)
    data = request.POST if request.method == "POST" else request.GET
    direction = FROM if data.get("direction") == FROM else TO
    back_url = inventory_url("licensing_inventory_licenses", account, va)
    licenses, problem = _bulk_licenses(data)
    if problem:
        messages.error(request, problem)
        return redirect(back_url)
    vas = list(visible_virtual_accounts(request, account))
    others = (
        transfer_targets(request, account, va, vas) if direction == TO else transfer_sources(request, account, va, vas)
    )
    if not others:
        raise NotAllowed()
    # "to": the figures of this virtual account are known up front; a license the rules refuse is
    # shown with the reason and left out (its quantity cannot be entered). "from": the figures are
    # the chosen source's, shown by the preview.
    limits = transfer_service.transfer_limits_bulk(from_va=va, licenses=licenses) if direction == TO else {}
    refused = [(lic, limits[lic.pk]) for lic in licenses if lic.pk in limits and limits[lic.pk].refusal]
    movable = [lic for lic in licenses if not (lic.pk in limits and limits[lic.pk].refusal)]
    form = BulkTransferForm(request.POST or None, others=others, licenses=movable, direction=direction, limits=limits)
    preview = None
    if request.method == "POST" and movable and form.is_valid():
        other = form.cleaned_data["other"]
        from_va, to_va = (va, other) if direction == TO else (other, va)
        items = form.items()
        with service_errors(request, form, fields={"to_virtual_account": "other", "quantity": None, "licenses": None}):
            if "preview" in request.POST:
                preview = transfer_service.preview_bulk_transfer(
                    actor=request.user, from_va=from_va, to_va=to_va, items=items
                )
            else:
                results = transfer_service.transfer_licenses_bulk(
                    actor=request.user,
                    from_va=from_va,
                    to_va=to_va,
                    items=items,
                    precedence=form.cleaned_data["precedence"],
                )
                summary = ", ".join(f"{r.quantity} × “{lic.name}”" for (lic, _q), r in zip(items, results, strict=True))
                messages.success(
                    request,
                    _(
                        "The licenses were transferred from the local virtual account “%(from)s” to “%(to)s”: "
                        "%(summary)s."
                    )
                    % {"from": from_va.name, "to": to_va.name, "summary": summary},
                )
                for notice in sorted({r.notice for r in results if r.notice}):
                    messages.info(request, notice)
                return redirect(back_url)
    return render_workspace(
        request,
        "licensing/inventory/license_bulk_transfer.html",
        {
            "form": form,
            "direction": direction,
            "virtual_account": va,
            "licenses": licenses,
            "movable": movable,
            "rows": [(lic, field, limits.get(lic.pk)) for lic, field in form.quantity_fields()],
            "refused": refused,
            "preview": preview,
            "back_url": back_url,
        },
        account=account,
        section="inventory",
    )
