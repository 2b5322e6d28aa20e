"""Smart Licensing > Reports: the Licenses, License Subscriptions and Product Instances reports.

Every report is computed for a list of local virtual accounts the caller has already limited to
what the principal may see (``accounts.rbac.visible_virtual_accounts``); nothing here widens it.
The Licenses report is the compliance service's positions, so it agrees with the Inventory; the
two others are returned as unevaluated querysets, which the page paginates and the exports read
in chunks (docs/reports.md, "Scale").
"""

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db.models import Case, CharField, F, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise

from ..models import Entitlement, LicenseDefinition, LicenseUsage, ProductInstance
from . import compliance

EXPORT_CHUNK_SIZE = 2000

LICENSES = "licenses"
SUBSCRIPTIONS = "subscriptions"
PRODUCT_INSTANCES = "product_instances"

# License Subscriptions: "Subscription Status: All Subscriptions, Active Only, or Expired-or-Cancelled".
SUBSCRIPTION_ALL = "all"
SUBSCRIPTION_ACTIVE = "active"
SUBSCRIPTION_EXPIRED = "expired"
ACTIVE = "Active"
EXPIRED = "Expired"
NOT_STARTED = "Not Started"


@dataclass(frozen=True)
class ReportKind:
    key: str
    name: "StrOrPromise"  # translated when shown (gettext_lazy)
    description: "StrOrPromise"
    columns: tuple  # (key, label) in the order of the page and of the exports


REPORT_KINDS = {
    LICENSES: ReportKind(
        LICENSES,
        _("Licenses"),
        _("Purchased, in use, substitution and balance of every license in the chosen local virtual accounts."),
        (
            ("virtual_account", _("Virtual Account")),
            ("license", _("License")),
            ("entitlement_tag", _("Entitlement Tag")),
            ("billing", _("Billing")),
            ("purchased", _("Purchased")),
            ("pending", _("Pending")),
            ("in_use", _("In Use")),
            ("borrowed", _("Borrowed")),
            ("lent", _("Lent")),
            ("substitution", _("Substitution")),
            ("balance", _("Balance")),
            ("status", _("Status")),
        ),
    ),
    SUBSCRIPTIONS: ReportKind(
        SUBSCRIPTIONS,
        _("License Subscriptions"),
        _("The term and subscription license lines of the chosen local virtual accounts, with their dates and status."),
        (
            ("virtual_account", _("Virtual Account")),
            ("license", _("License")),
            ("subscription_id", _("Subscription ID")),
            ("sku", _("SKU")),
            ("license_type", _("License Type")),
            ("quantity", _("Quantity")),
            ("start_date", _("Start Date")),
            ("end_date", _("Expiration Date")),
            ("source", _("Source")),
            ("status", _("Status")),
        ),
    ),
    PRODUCT_INSTANCES: ReportKind(
        PRODUCT_INSTANCES,
        _("Product Instances"),
        _("The product instances registered to the chosen local virtual accounts and the licenses they use."),
        (
            ("virtual_account", _("Virtual Account")),
            ("name", _("Name")),
            ("product_type", _("Product Type")),
            ("udi_pid", _("UDI PID")),
            ("udi_serial_number", _("UDI SN")),
            ("hostname", _("Hostname")),
            ("ip_address", _("IP Address")),
            ("mac_address", _("MAC Address")),
            ("registered_at", _("Registration Date")),
            ("last_contact_at", _("Last Contact")),
            ("licenses_in_use", _("Licenses In Use")),
            ("redundancy", _("Redundancy")),
        ),
    ),
}


@dataclass(frozen=True)
class Criteria:
    """What a report covers. ``virtual_accounts`` are VirtualAccount objects of one local account,
    already limited to the visible ones; ``license_ids`` None means every license, and
    ``excluded_license_ids`` are left out ("Licenses with NO License Tags")."""

    virtual_accounts: tuple
    license_ids: frozenset | None = None
    excluded_license_ids: frozenset = frozenset()
    subscription_status: str = SUBSCRIPTION_ALL
    product_types: tuple = field(default_factory=tuple)


# --- Licenses -------------------------------------------------------------------------------------


def licenses_report(account, criteria, *, as_of=None):
    """The Licenses report rows (dicts keyed by the column keys), by virtual account then license.

    In memory on purpose: one row per (virtual account, license) pair, bounded by the catalogue,
    not by the number of product instances. Queries: the compliance service's, plus one for the
    billing types.
    """
    if not criteria.virtual_accounts:
        return []
    positions = compliance.license_positions(account, as_of=as_of, virtual_accounts=criteria.virtual_accounts)
    if criteria.license_ids is not None:
        positions = [p for p in positions if p.license_id in criteria.license_ids]
    if criteria.excluded_license_ids:
        positions = [p for p in positions if p.license_id not in criteria.excluded_license_ids]
    billing = (
        dict(
            LicenseDefinition.objects.filter(pk__in={p.license_id for p in positions}).values_list("pk", "billing_type")
        )
        if positions
        else {}
    )
    labels = dict(LicenseDefinition.Billing.choices)
    return [
        {
            "virtual_account": p.virtual_account,
            "virtual_account_id": p.virtual_account_id,
            "license": p.license,
            "license_id": p.license_id,
            "entitlement_tag": p.entitlement_tag,
            "billing": labels.get(billing.get(p.license_id, ""), ""),
            "purchased": p.purchased,
            "pending": p.pending_quantity,
            "in_use": p.in_use,
            "borrowed": p.borrowed,
            "lent": p.lent,
            "substitution": substitution_text(p.substitutions),
            "balance": p.available,
            "status": p.status,
        }
        for p in positions
    ]


def substitution_text(substitutions):
    """ "Substitution From Higher Tier: 3 × Network Advantage; ..." — the other license of each."""
    parts = []
    for s in substitutions:
        other = s.substituted_license if s.substitution_type == compliance.FROM_HIGHER_TIER else s.license
        parts.append(f"{s.substitution_type}: {s.quantity} × {other}")
    return "; ".join(parts)


LICENSE_SORTS = {
    "virtual_account": lambda r: r["virtual_account"].casefold(),
    "license": lambda r: r["license"].casefold(),
    "billing": lambda r: r["billing"],
    "purchased": lambda r: r["purchased"],
    "in_use": lambda r: r["in_use"],
    "balance": lambda r: r["balance"],
    "status": lambda r: r["status"],
}


# --- License Subscriptions ----------------------------------------------------------------------------


def _choice_label(model_field_choices, field_name):
    """A CASE that turns a stored choice value into its label inside the query."""
    return Case(
        *[When(**{field_name: value}, then=Value(str(label))) for value, label in model_field_choices],
        default=field_name,
        output_field=CharField(),
    )


def subscriptions_report(account, criteria, *, as_of=None):
    """The License Subscriptions report: a queryset of dicts keyed by the column keys."""
    as_of = as_of or compliance.today()
    lines = Entitlement.objects.filter(
        virtual_account__in=[va.pk for va in criteria.virtual_accounts], virtual_account__account=account
    )
    lines = lines.filter(
        Q(license_type__in=[Entitlement.LicenseType.TERM, Entitlement.LicenseType.SUBSCRIPTION])
        | ~Q(subscription_id="")
    )
    if criteria.license_ids is not None:
        lines = lines.filter(license_id__in=criteria.license_ids)
    if criteria.excluded_license_ids:
        lines = lines.exclude(license_id__in=criteria.excluded_license_ids)
    lines = lines.annotate(
        status=Case(
            When(end_date__lt=as_of, then=Value(EXPIRED)),
            When(start_date__gt=as_of, then=Value(NOT_STARTED)),
            default=Value(ACTIVE),
            output_field=CharField(),
        )
    )
    if criteria.subscription_status == SUBSCRIPTION_ACTIVE:
        lines = lines.filter(status=ACTIVE)
    elif criteria.subscription_status == SUBSCRIPTION_EXPIRED:
        lines = lines.filter(status=EXPIRED)
    return (
        lines.annotate(
            type_label=_choice_label(Entitlement.LicenseType.choices, "license_type"),
            source_label=_choice_label(Entitlement.Source.choices, "source"),
        )
        .values(
            "pk",
            "virtual_account_id",
            "license_id",
            "subscription_id",
            "sku",
            "quantity",
            "start_date",
            "end_date",
            "status",
            virtual_account_name=F("virtual_account__name"),
            license_name=F("license__name"),
            license_type_label=F("type_label"),
            source_name=F("source_label"),
        )
        .order_by("virtual_account__name", "license__name", "end_date", "pk")
    )


SUBSCRIPTION_SORTS = {
    "virtual_account": "virtual_account__name",
    "license": "license__name",
    "subscription_id": "subscription_id",
    "sku": "sku",
    "license_type": "license_type",
    "quantity": "quantity",
    "start_date": "start_date",
    "end_date": "end_date",
    "status": "status",
}


def _subscription_cells(row):
    return {
        "virtual_account": row["virtual_account_name"],
        "license": row["license_name"],
        "subscription_id": row["subscription_id"],
        "sku": row["sku"],
        "license_type": row["license_type_label"],
        "quantity": row["quantity"],
        "start_date": row["start_date"],
        "end_date": row["end_date"],
        "source": row["source_name"],
        "status": row["status"],
    }


# --- Product Instances ----------------------------------------------------------------------------


def product_types(virtual_accounts):
    """The product types met among the product instances of ``virtual_accounts`` (the filter's choices)."""
    return list(
        ProductInstance.objects.filter(virtual_account__in=[va.pk for va in virtual_accounts])
        .exclude(product_name="")
        .values_list("product_name", flat=True)
        .distinct()
        .order_by("product_name")
    )


def product_instances_report(account, criteria):
    """The Product Instances report: a queryset of dicts keyed by the column keys.

    "Product Type" is the product name the instance reported (the Inventory's Product Type
    column); identity details come from the device record when the instance registered through
    the device protocol (a LEFT JOIN: instances synchronized without one keep empty cells).
    """
    instances = ProductInstance.objects.filter(
        account=account, virtual_account__in=[va.pk for va in criteria.virtual_accounts]
    )
    if criteria.product_types:
        instances = instances.filter(product_name__in=list(criteria.product_types))
    in_use = (
        LicenseUsage.objects.filter(product_instance=OuterRef("pk"))
        .order_by()
        .values("product_instance")
        .annotate(total=Sum("count"))
        .values("total")
    )
    roles = ProductInstance.RedundancyRole
    return (
        instances.annotate(
            licenses_in_use=Coalesce(Subquery(in_use, output_field=IntegerField()), 0),
            role_label=_choice_label(roles.choices, "redundancy_role"),
        )
        .values(
            "pk",
            "virtual_account_id",
            "hostname",
            "product_name",
            "udi_pid",
            "udi_serial_number",
            "registered_at",
            "last_contact_at",
            "redundancy_role",
            "redundancy_group",
            "licenses_in_use",
            "role_label",
            virtual_account_name=F("virtual_account__name"),
            ip_address=Coalesce("device__ip_address", Value("")),
            mac_address=Coalesce("device__mac_address", Value("")),
        )
        .order_by("virtual_account__name", "hostname", "udi_pid", "udi_serial_number", "pk")
    )


PRODUCT_INSTANCE_SORTS = {
    "virtual_account": "virtual_account__name",
    "name": "hostname",
    "product_type": "product_name",
    "udi_pid": "udi_pid",
    "udi_serial_number": "udi_serial_number",
    "registered_at": "registered_at",
    "last_contact_at": "last_contact_at",
    "licenses_in_use": "licenses_in_use",
}


def _product_instance_cells(row):
    name = row["hostname"] or f"UDI_PID:{row['udi_pid']}; UDI_SN:{row['udi_serial_number']}"
    redundancy = ""
    if row["redundancy_role"] != ProductInstance.RedundancyRole.NONE:
        redundancy = row["role_label"] + (f" ({row['redundancy_group']})" if row["redundancy_group"] else "")
    return {
        "virtual_account": row["virtual_account_name"],
        "name": name,
        "product_type": row["product_name"],
        "udi_pid": row["udi_pid"],
        "udi_serial_number": row["udi_serial_number"],
        "hostname": row["hostname"],
        "ip_address": row["ip_address"],
        "mac_address": row["mac_address"],
        "registered_at": row["registered_at"],
        "last_contact_at": row["last_contact_at"],
        "licenses_in_use": row["licenses_in_use"],
        "redundancy": redundancy,
    }


# --- One entry point for the views --------------------------------------------------------------


def run_report(kind, account, criteria, *, as_of=None):
    """The rows of report ``kind``: a list (Licenses) or an unevaluated queryset (the others)."""
    if kind == LICENSES:
        return licenses_report(account, criteria, as_of=as_of)
    if kind == SUBSCRIPTIONS:
        return subscriptions_report(account, criteria, as_of=as_of)
    if kind == PRODUCT_INSTANCES:
        return product_instances_report(account, criteria)
    raise KeyError(kind)


SORTS = {LICENSES: LICENSE_SORTS, SUBSCRIPTIONS: SUBSCRIPTION_SORTS, PRODUCT_INSTANCES: PRODUCT_INSTANCE_SORTS}
_CELLS = {LICENSES: dict, SUBSCRIPTIONS: _subscription_cells, PRODUCT_INSTANCES: _product_instance_cells}


def cells(kind, row):
    """One report row as {column key: value} (the page's cells)."""
    return _CELLS[kind](row)


def export_value(value):
    """Dates and times as ISO text in UTC for the files; everything else unchanged."""
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def export_rows(kind, rows):
    """The rows of a report as lists in column order, for CSV and XLSX.

    A queryset is read in chunks (one query, ``EXPORT_CHUNK_SIZE`` rows held at a time).
    """
    keys = [key for key, _label in REPORT_KINDS[kind].columns]
    source = rows.iterator(chunk_size=EXPORT_CHUNK_SIZE) if hasattr(rows, "iterator") else rows
    for row in source:
        values = cells(kind, row)
        yield [export_value(values[key]) for key in keys]


def header(kind):
    return [str(label) for _key, label in REPORT_KINDS[kind].columns]
