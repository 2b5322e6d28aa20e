"""Smart Licensing > Inventory: the General, Licenses and Product Instances tabs of one local
virtual account.

The virtual account is chosen with ``?va=<id>`` among those the principal may see
(``visible_virtual_accounts``); without it the Default one (or the first visible one) is shown.
A virtual account the principal may not see, or one of another local account, answers 404 like
an invisible account does (see ``workspace``); 403 is kept for a visible virtual account on
which the action is not allowed.
"""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.rbac import Action, can, visible_virtual_accounts
from licensing.models import (Entitlement, LicenseDefinition, LicenseTag, ProductInstance, RegistrationToken,
                              VirtualAccountTagValue)
from licensing.services import compliance
from licensing.services import product_instances as pi_service
from licensing.services import transfers as transfer_service
from licensing.services import tokens as token_service
from licensing.transport.views import cslu_url_path
from onprem.csv_export import csv_response
from onprem.errors import NotAllowed
from onprem.listing import DEFAULT_PAGE_SIZE, Listing
from onprem.service_views import service_errors

from ..forms import LicenseTransferForm, NewTokenForm, ProductInstanceTransferForm
from . import charts
from .preferences import transaction_details_enabled
from .workspace import account_page, render_workspace

NEW_TOKEN_SESSION_KEY = "licensing_new_token_id"

INVENTORY_TABS = [
    ("general", gettext_lazy("General"), "licensing_inventory"),
    ("licenses", gettext_lazy("Licenses"), "licensing_inventory_licenses"),
    ("product_instances", gettext_lazy("Product Instances"), "licensing_inventory_product_instances"),
]


def require(request, action, virtual_account):
    if not can(request, action, account=virtual_account.account, virtual_account=virtual_account):
        raise NotAllowed()


def chosen_virtual_account(request, account, vas):
    """The virtual account of ``?va=``, among ``vas`` (the visible ones); 404 if it is not one of them."""
    requested = request.GET.get("va", "").strip()
    if requested:
        if not requested.isdigit():
            raise Http404("No such local virtual account.")
        for va in vas:
            if va.pk == int(requested):
                return va
        raise Http404("No such local virtual account.")
    return next((va for va in vas if va.is_default), vas[0] if vas else None)


def visible_virtual_account_or_404(request, account, va_id):
    """A virtual account of ``account`` that the principal may see, by id; 404 otherwise."""
    va = get_object_or_404(visible_virtual_accounts(request, account), pk=va_id)
    va.account = account  # the same object: no query to load it again
    return va


def inventory_url(url_name, account, va):
    return f"{reverse(url_name, args=[account.pk])}?va={va.pk}"


def chooser_virtual_accounts(request, account, vas):
    """The chooser's options: "search local Virtual Accounts By Name or By Tag" (``va_search``,
    ``va_by=name|tag``; a tag matches by its name or one of its values). One query for By Tag."""
    text = request.GET.get("va_search", "").strip()[:100]
    if not text:
        return vas, ""
    if request.GET.get("va_by") == "tag":
        tagged = set(VirtualAccountTagValue.objects.filter(tag__account=account)
                     .filter(Q(value__icontains=text) | Q(tag__name__icontains=text))
                     .values_list("virtual_accounts", flat=True))
        return [va for va in vas if va.pk in tagged], text
    return [va for va in vas if text.casefold() in va.name.casefold()], text


def render_inventory(request, account, tab, template, context=None):
    """Inventory page: the virtual account chooser, the sub-tab bar, then the tab's content."""
    vas = list(visible_virtual_accounts(request, account))
    va = chosen_virtual_account(request, account, vas)
    options, va_search = chooser_virtual_accounts(request, account, vas)
    if va_search and not request.GET.get("va") and options:
        va = options[0]  # searching picks the first match
    if va is not None:
        va.account = account
        if va not in options:
            options = [va, *options]
    page = {
        "virtual_accounts": options,
        "va_search": va_search,
        "va_by": request.GET.get("va_by", "name"),
        "virtual_account": va,
        "inventory_tab": tab,
        "inventory_tabs": [
            {"key": key, "label": label, "url": inventory_url(url_name, account, va) if va else "",
             "current": key == tab}
            for key, label, url_name in INVENTORY_TABS
        ],
    }
    if va is not None:
        # In memory (the grants are loaded once per request): where this VA may transfer to.
        page["transfer_targets"] = transfer_targets(request, account, va, vas)
        page.update(context(va) if callable(context) else (context or {}))
    return render_workspace(request, template, page, account=account, section="inventory")


def csv_url(request, url_name, account, va):
    """The CSV export of the table as shown: same virtual account, search and sort, every page."""
    params = request.GET.copy()
    params["va"] = va.pk
    params.pop("page", None)
    return f"{reverse(url_name, args=[account.pk])}?{params.urlencode()}"



def csv_name(prefix, va):
    return get_valid_filename(f"{prefix}_{va.name}_{timezone.now():%Y%m%d%H%M%S}.csv")


# --- General ------------------------------------------------------------------------------------


@account_page
@require_GET
def general(request, account):
    def context(va):
        now = timezone.now()
        tokens = RegistrationToken.objects.filter(virtual_account=va).with_status(now)
        table = Listing(request, tokens, search=["description", "created_by_name"],
                        sorts={"expires": "expires_at", "uses": "uses", "description": "description",
                               "created_by": "created_by_name", "status": "current_status",
                               "created": "created_at"},
                        default_sort="-created")
        new_token = None
        new_token_id = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
        if new_token_id is not None:
            new_token = RegistrationToken.objects.filter(pk=new_token_id, virtual_account=va).first()
        return {
            "table": table,
            "new_token": new_token,
            "may_manage_tokens": can(request, Action.MANAGE_TOKENS, account=account, virtual_account=va),
            "export_allowed": account.export_control_allowed,
            "statuses": RegistrationToken.Status,
            # Where this account's products send their messages (docs/protocol.md).
            "transport_urls": [
                (_("Smart Transport URL"), request.build_absolute_uri("/SmartTransport")),
                (_("Call Home URL"), request.build_absolute_uri("/Transportgateway/services/DeviceRequestHandler")),
                (_("CSLU Transport URL"), request.build_absolute_uri(cslu_url_path(account))),
            ],
        }

    return render_inventory(request, account, "general", "licensing/inventory/general.html", context)


@account_page
@require_http_methods(["GET", "POST"])
def token_new(request, account, va_id):
    va = visible_virtual_account_or_404(request, account, va_id)
    require(request, Action.MANAGE_TOKENS, va)
    export_allowed = account.export_control_allowed and can(
        request, Action.CREATE_EXPORT_TOKENS, account=account, virtual_account=va)
    form = NewTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # Without export permission the checkbox is not on the page: its refusal goes above the form.
        with service_errors(request, form, fields=None if export_allowed else {"export_controlled": None}):
            if data["export_controlled"]:
                require(request, Action.CREATE_EXPORT_TOKENS, va)
            token = token_service.create_token(
                actor=request.user, virtual_account=va, description=data["description"],
                expires_after_days=data["expires_after_days"], max_uses=data["max_uses"],
                export_controlled=data["export_controlled"],
            )
            request.session[NEW_TOKEN_SESSION_KEY] = token.pk
            messages.success(request, _("The registration token was created in the local virtual account "
                                        "“%(name)s”.") % {"name": va.name})
            return redirect(inventory_url("licensing_inventory", account, va))
    return render_workspace(request, "licensing/inventory/token_form.html", {
        "form": form, "virtual_account": va, "export_allowed": export_allowed,
        "back_url": inventory_url("licensing_inventory", account, va),
    }, account=account, section="inventory")


def _token_or_404(request, account, token_id):
    """A token of a virtual account of ``account`` that the principal may see; 404 otherwise."""
    vas = visible_virtual_accounts(request, account)
    token = get_object_or_404(RegistrationToken.objects.select_related("virtual_account"),
                              pk=token_id, virtual_account__in=vas)
    token.virtual_account.account = account
    return token


@account_page
@require_POST
def token_revoke(request, account, token_id):
    token = _token_or_404(request, account, token_id)
    require(request, Action.MANAGE_TOKENS, token.virtual_account)
    with service_errors(request):
        token_service.revoke_token(actor=request.user, token=token)
        messages.success(request, _("The registration token was revoked."))
    return redirect(inventory_url("licensing_inventory", account, token.virtual_account))


@account_page
@require_POST
def token_remove(request, account, token_id):
    """Refused by the service until the token is revoked; the refusal is shown."""
    token = _token_or_404(request, account, token_id)
    require(request, Action.MANAGE_TOKENS, token.virtual_account)
    with service_errors(request):
        token_service.remove_token(actor=request.user, token=token)
        messages.success(request, _("The registration token was removed."))
    return redirect(inventory_url("licensing_inventory", account, token.virtual_account))


@account_page
@require_GET
def token_download(request, account, token_id):
    token = _token_or_404(request, account, token_id)
    require(request, Action.MANAGE_TOKENS, token.virtual_account)
    response = HttpResponse(token_service.token_as_text(actor=request.user, token=token),
                            content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{token_service.token_file_name(token)}"'
    return response


# --- Licenses -----------------------------------------------------------------------------------


class RowListing(Listing):
    """``Listing`` for rows already in memory (the compliance table): search by one text
    attribute, sort by whitelisted key functions, paginate; the same URLs as ``Listing``."""

    def __init__(self, request, rows, *, search=None, sorts=None, default_sort=None, page_size=DEFAULT_PAGE_SIZE):
        self.request = request
        self.sorts = sorts or {}
        self.query = request.GET.get("q", "").strip()[:200]
        if self.query and search:
            needle = self.query.casefold()
            rows = [row for row in rows if needle in search(row).casefold()]
        requested = request.GET.get("sort", "")
        self.sort = requested if requested.lstrip("-") in self.sorts else (default_sort or "")
        key = self.sort.lstrip("-")
        if key in self.sorts:
            # Stable sorts: ties keep the service's order (by license name).
            rows = sorted(rows, key=self.sorts[key], reverse=self.sort.startswith("-"))
        self.rows = list(rows)
        self.paginator = Paginator(self.rows, page_size)
        self.page = self.paginator.get_page(request.GET.get("page"))


def license_rows(va):
    """The compliance rows of ``va``: the positions, each with its license's billing type.

    Two steps whatever the number of product instances: the compliance service's fixed
    number of queries, then one query for the billing types of the licenses it names.
    """
    positions = compliance.virtual_account_positions(va)
    billing = dict(LicenseDefinition.objects.filter(pk__in={p.license_id for p in positions})
                   .values_list("pk", "billing_type")) if positions else {}
    labels = dict(LicenseDefinition.Billing.choices)
    rows = []
    for position in positions:
        substitutions = [
            {"type": s.substitution_type, "quantity": s.quantity,
             "license": s.substituted_license if s.substitution_type == compliance.FROM_HIGHER_TIER else s.license}
            for s in position.substitutions
        ]
        rows.append({
            "license": position.license,
            "license_id": position.license_id,
            "entitlement_tag": position.entitlement_tag,
            "billing": labels.get(billing.get(position.license_id), ""),
            "purchased": position.purchased,
            "pending": position.pending_quantity,
            "in_use": position.in_use,
            "borrowed": position.borrowed,
            "lent": position.lent,
            "substitutions": substitutions,
            "balance": position.available,
            "status": position.status,
            "in_compliance": position.status == compliance.IN_COMPLIANCE,
        })
    return rows


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
    expires_by = forms.DateField(label=gettext_lazy("Expires By"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))

    def criteria(self):
        return {k: v for k, v in self.cleaned_data.items() if v} if self.is_valid() else {}


def transaction_lines(va, criteria, today):
    """{license id: [lines]} of ``va``'s current and future lines that meet ``criteria`` (one query)."""
    lines = (Entitlement.objects.filter(virtual_account=va).exclude(end_date__lt=today)
             .select_related("license").order_by("license_id", "end_date", "pk"))
    if criteria.get("family"):
        lines = lines.filter(license__product_family__icontains=criteria["family"])
    if criteria.get("sku"):
        lines = lines.filter(sku=criteria["sku"])
    if criteria.get("expires_by"):
        lines = lines.filter(end_date__lte=criteria["expires_by"])
    by_license = {}
    for line in lines:
        by_license.setdefault(line.license_id, []).append(line)
    return by_license


def license_tags(account, license_ids):
    """{license id: [tag names]} of the account's license tags on those licenses (one query)."""
    tags = {}
    rows = LicenseTag.objects.filter(account=account, licenses__in=license_ids).values_list("licenses", "name")
    for license_id, name in rows.order_by("name"):
        tags.setdefault(license_id, []).append(name)
    return tags


def license_table(request, va, *, show_transactions=False, advanced=None):
    """The Licenses table: search "By Name" (default) or "By Tag" (``by=tag``); with transaction
    details on, each row carries its lines and tags, and the Advanced Search filters by its lines."""
    rows = license_rows(va)
    search = lambda r: r["license"]  # noqa: E731
    query = request.GET.get("q", "").strip()[:200]
    if request.GET.get("by") == "tag":
        search = None
        if query:
            tagged = set(LicenseTag.objects.filter(account_id=va.account_id, name__icontains=query)
                         .values_list("licenses", flat=True))
            rows = [r for r in rows if r["license_id"] in tagged]
    if show_transactions:
        criteria = advanced.criteria() if advanced is not None else {}
        lines = transaction_lines(va, criteria, timezone.now().date())
        if criteria:
            rows = [r for r in rows if r["license_id"] in lines]
        tags = license_tags(va.account, [r["license_id"] for r in rows]) if rows else {}
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
    return charts.usage_bars([
        (row["license"], reverse("licensing_license_detail", args=[account.pk, va.pk, row["license_id"]]),
         compliance.LicensePosition(virtual_account_id=va.pk, virtual_account=va.name, license_id=row["license_id"],
                                    license=row["license"], entitlement_tag=row["entitlement_tag"],
                                    purchased=row["purchased"], in_use=row["in_use"], borrowed=row["borrowed"],
                                    lent=row["lent"]))
        for row in rows])


@account_page
@require_GET
def licenses(request, account):
    allowed, shown, advanced = licenses_view_options(request, account)

    def tab(va):
        table = license_table(request, va, show_transactions=shown, advanced=advanced)
        return {"table": table, "bars": license_bars(account, va, table.page),
                "transactions_allowed": allowed, "show_transactions": shown,
                "advanced": advanced, "search_by": request.GET.get("by", "name"),
                "csv_url": csv_url(request, "licensing_inventory_licenses_csv", account, va)}

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
    return csv_response(csv_name("licenses", va), [
        "License", "Entitlement Tag", "Billing", "Purchased", "Pending", "In Use", "Borrowed", "Lent",
        "Substitution", "Balance", "Status",
    ], ([r["license"], r["entitlement_tag"], r["billing"], r["purchased"], r["pending"], r["in_use"],
         r["borrowed"], r["lent"], substitution_text(r), r["balance"], r["status"]] for r in table.rows))


# --- Product Instances ----------------------------------------------------------------------------


PRODUCT_INSTANCE_SORTS = {
    "name": "hostname", "product": "product_name", "pid": "udi_pid", "sn": "udi_serial_number",
    "last_contact": "last_contact_at", "registered": "registered_at", "role": "redundancy_role",
}


def product_instance_table(request, va):
    instances = ProductInstance.objects.filter(virtual_account=va)
    return Listing(request, instances, search=["hostname", "product_name", "udi_pid", "udi_serial_number"],
                   sorts=PRODUCT_INSTANCE_SORTS, default_sort="name")


@account_page
@require_GET
def product_instances(request, account):
    return render_inventory(request, account, "product_instances", "licensing/inventory/product_instances.html",
                            lambda va: {
                                "table": product_instance_table(request, va),
                                "may_remove": can(request, Action.REMOVE_PRODUCT_INSTANCES, account=account,
                                                  virtual_account=va),
                                "csv_url": csv_url(request, "licensing_inventory_product_instances_csv", account, va),
                            })


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

    return csv_response(csv_name("product_instances", va), [
        "Name", "Hostname", "Product", "UDI PID", "UDI SN", "Last Contact", "Registration Date", "Redundancy Role",
        "Redundancy Group",
    ], ([pi.display_name, pi.hostname, pi.product_name, pi.udi_pid, pi.udi_serial_number, when(pi.last_contact_at),
         when(pi.registered_at), roles.get(pi.redundancy_role, pi.redundancy_role), pi.redundancy_group]
        for pi in queryset.iterator(chunk_size=500)))


# --- Actions: transfer and remove -----------------------------------------------------------------
#
# The destination of a transfer is chosen among ``transfer_targets``: the other visible virtual
# accounts that ``can(TRANSFER, from, to)`` allows (a VA role needs a role on both); with none,
# the page is 403. Any other id is an invalid choice of the form. The services check the permission again and answer
# NotAllowed (403) or ServiceError (shown, nothing written: each runs in one transaction).


def transfer_targets(request, account, va, vas=None):
    """The virtual accounts, other than ``va``, this principal may transfer from ``va`` to."""
    if vas is None:
        vas = list(visible_virtual_accounts(request, account))
    targets = []
    for other in vas:
        if other.pk != va.pk and can(request, Action.TRANSFER, account=account, virtual_account=va,
                                     to_virtual_account=other):
            other.account = account
            targets.append(other)
    return targets


def transfer_targets_or_403(request, account, va):
    """The transfer targets of ``va``; none at all (no role on any other VA) is 403: the page
    offers nothing to do, and the tables show no Transfer button then."""
    targets = transfer_targets(request, account, va)
    if not targets:
        raise NotAllowed()
    return targets


def _product_instance_or_404(request, account, pi_id):
    """A product instance of a virtual account of ``account`` that the principal may see; 404 otherwise."""
    vas = visible_virtual_accounts(request, account)
    pi = get_object_or_404(ProductInstance.objects.select_related("virtual_account"),
                           pk=pi_id, virtual_account__in=vas)
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
            messages.success(request, _("The product instance “%(pi)s” was transferred to the local virtual account "
                                        "“%(to)s”.") % {"pi": pi.display_name, "to": to_va.name})
            for name, quantity in result.restricted_moved:
                messages.info(request, _("%(quantity)s export-restricted “%(license)s” licenses moved with it.")
                              % {"quantity": quantity, "license": name})
            if result.shortages:
                messages.warning(request, _("License shortage: the local virtual account “%(to)s” is now Out Of "
                                            "Compliance for %(licenses)s.")
                                 % {"to": to_va.name, "licenses": ", ".join(f"“{n}”" for n in result.shortages)})
            return redirect(back_url)
    return render_workspace(request, "licensing/inventory/product_instance_transfer.html", {
        "form": form, "virtual_account": va, "product_instance": pi, "back_url": back_url,
    }, account=account, section="inventory")


@account_page
@require_POST
def product_instance_remove(request, account, pi_id):
    pi = _product_instance_or_404(request, account, pi_id)
    va = pi.virtual_account
    require(request, Action.REMOVE_PRODUCT_INSTANCES, va)
    name = pi.display_name
    with service_errors(request):
        pi_service.remove_product_instance(actor=request.user, pi=pi)
        messages.success(request, _("The product instance “%(pi)s” was removed; its licenses were released.")
                         % {"pi": name})
    return redirect(inventory_url("licensing_inventory_product_instances", account, va))


@account_page
@require_http_methods(["GET", "POST"])
def license_transfer(request, account, va_id, license_id):
    """Transfer licenses of one license: "Preview" shows the before/after balances (nothing kept),
    "Transfer" moves them."""
    va = visible_virtual_account_or_404(request, account, va_id)
    license = get_object_or_404(LicenseDefinition, pk=license_id)
    back_url = inventory_url("licensing_inventory_licenses", account, va)
    form = LicenseTransferForm(request.POST or None, targets=transfer_targets_or_403(request, account, va))
    preview = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        arguments = {"actor": request.user, "from_va": va, "to_va": data["to_virtual_account"], "license": license,
                     "quantity": data["quantity"], "precedence": data["precedence"]}
        with service_errors(request, form):
            if "preview" in request.POST:
                preview = transfer_service.preview_transfer(**arguments)
            else:
                result = transfer_service.transfer_licenses(**arguments)
                messages.success(request, _("%(quantity)s “%(license)s” licenses were transferred to the local "
                                            "virtual account “%(to)s”.")
                                 % {"quantity": result.quantity, "license": license.name,
                                    "to": data["to_virtual_account"].name})
                if result.notice:
                    messages.info(request, result.notice)
                return redirect(back_url)
    return render_workspace(request, "licensing/inventory/license_transfer.html", {
        "form": form, "virtual_account": va, "license": license, "preview": preview,
        "to_virtual_account": form.cleaned_data.get("to_virtual_account") if preview else None,
        "back_url": back_url,
    }, account=account, section="inventory")
