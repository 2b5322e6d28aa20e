"""What the Inventory tabs read (Smart Licensing > Inventory): the querysets and rows the views
paginate, export and render. Nothing here writes.

Callers pass local virtual accounts they have already limited to what the principal may see
(``accounts.rbac.visible_virtual_accounts``); nothing here widens them. Each function runs a
fixed number of queries whatever the number of rows: the pages' query counts are pinned in
tests.
"""

from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery

from ..models import (
    DeviceIdentity,
    Entitlement,
    LicenseDefinition,
    LicenseTag,
    ProductInstance,
    RegistrationToken,
    RumReport,
    VirtualAccountTagValue,
)
from . import compliance

# --- The virtual account chooser ---------------------------------------------------------------


def virtual_account_ids_tagged(account, text):
    """Ids of the local virtual accounts of ``account`` holding a tag value that contains ``text``
    or a value of a tag whose name contains it (one query)."""
    return set(
        VirtualAccountTagValue.objects.filter(tag__account=account)
        .filter(Q(value__icontains=text) | Q(tag__name__icontains=text))
        .values_list("virtual_accounts", flat=True)
    )


# --- General: registration tokens ---------------------------------------------------------------


def tokens_of(va, now):
    """The registration tokens of ``va``, each with its status at ``now`` (``current_status``)."""
    return RegistrationToken.objects.filter(virtual_account=va).with_status(now)


def token_of(va, token_id):
    """The token ``token_id`` if it belongs to ``va``; None otherwise."""
    return RegistrationToken.objects.filter(pk=token_id, virtual_account=va).first()


def tokens_in(vas):
    """The tokens of the virtual accounts ``vas``, each with its virtual account."""
    return RegistrationToken.objects.select_related("virtual_account").filter(virtual_account__in=vas)


# --- Licenses -------------------------------------------------------------------------------------


def license_rows(va):
    """The compliance rows of ``va``: the positions, each with its license's billing type.

    Two steps whatever the number of product instances: the compliance service's fixed
    number of queries, then one query for the billing types of the licenses it names.
    """
    positions = compliance.virtual_account_positions(va)
    billing = (
        dict(
            LicenseDefinition.objects.filter(pk__in={p.license_id for p in positions}).values_list("pk", "billing_type")
        )
        if positions
        else {}
    )
    labels = dict(LicenseDefinition.Billing.choices)
    rows = []
    for position in positions:
        substitutions = [
            {
                "type": s.substitution_type,
                "quantity": s.quantity,
                "license": s.substituted_license if s.substitution_type == compliance.FROM_HIGHER_TIER else s.license,
            }
            for s in position.substitutions
        ]
        rows.append(
            {
                "license": position.license,
                "license_id": position.license_id,
                "entitlement_tag": position.entitlement_tag,
                "billing": labels.get(billing.get(position.license_id, ""), ""),
                "purchased": position.purchased,
                "pending": position.pending_quantity,
                "in_use": position.in_use,
                "reserved": position.reserved,
                "borrowed": position.borrowed,
                "lent": position.lent,
                "substitutions": substitutions,
                "balance": position.available,
                "status": position.status,
                "in_compliance": position.status == compliance.IN_COMPLIANCE,
            }
        )
    return rows


def license_ids_tagged(account_id, text):
    """Ids of the licenses carrying a license tag of the account whose name contains ``text`` (one query)."""
    return set(
        LicenseTag.objects.filter(account_id=account_id, name__icontains=text).values_list("licenses", flat=True)
    )


def transaction_lines(va, criteria, today):
    """{license id: [lines]} of ``va``'s current and future lines that meet ``criteria``, each with its
    license tags (``line_tags``, the Transaction Detail level): two queries.

    ``criteria`` is the Advanced Search: ``family`` (contains), ``sku`` (exact), ``expires_by``
    (an end date on or before it); a criterion left out does not filter.
    """
    lines = (
        Entitlement.objects.filter(virtual_account=va)
        .exclude(end_date__lt=today)
        .select_related("license")
        .prefetch_related("line_tags")
        .order_by("license_id", "end_date", "pk")
    )
    if criteria.get("family"):
        lines = lines.filter(license__product_family__icontains=criteria["family"])
    if criteria.get("sku"):
        lines = lines.filter(sku=criteria["sku"])
    if criteria.get("expires_by"):
        lines = lines.filter(end_date__lte=criteria["expires_by"])
    by_license: dict[int, list[Entitlement]] = {}
    for line in lines:
        by_license.setdefault(line.license_id, []).append(line)
    return by_license


# License Transactions (Activity, and the Administration workspace's per-account page): the
# searched fields and the sort keys of the guide's columns.
LICENSE_TRANSACTION_SEARCH = ["license__name", "sku", "subscription_id", "virtual_account__name"]
LICENSE_TRANSACTION_SORTS = {
    "date": "created_at",
    "sku": "sku",
    "license": "license__name",
    "quantity": "quantity",
    "expiration": "end_date",
    "type": "license_type",
    "va": "virtual_account__name",
    "source": "source",
}


def license_transactions(virtual_accounts):
    """Activity > License Transactions: the license lines of ``virtual_accounts`` (a queryset of
    them), each with its license and virtual account (one query per page)."""
    return Entitlement.objects.filter(virtual_account__in=virtual_accounts).select_related(
        "license", "virtual_account", "ported_from"
    )


def license_tag_names(account):
    """The names of the account's license tags, sorted (one query): the By Tag search's choices."""
    return list(LicenseTag.objects.filter(account=account).order_by("name").values_list("name", flat=True))


def license_tags(account, license_ids):
    """{license id: [tag names]} of the account's license tags on those licenses (one query)."""
    tags: dict[int, list[str]] = {}
    rows = LicenseTag.objects.filter(account=account, licenses__in=license_ids).values_list("licenses", "name")
    for license_id, name in rows.order_by("name"):
        tags.setdefault(license_id, []).append(name)
    return tags


# --- Product Instances ----------------------------------------------------------------------------


def product_instances_of(va):
    """The product instances of ``va`` (the page's ``Listing`` sorts and pages them)."""
    return ProductInstance.objects.filter(virtual_account=va)


def product_instances_in(vas):
    """The product instances of the virtual accounts ``vas``, each with its virtual account."""
    return ProductInstance.objects.select_related("virtual_account").filter(virtual_account__in=vas)


# --- SL Using Policy ------------------------------------------------------------------------------


def slp_product_instances_of(va):
    """The product instances of ``va`` that report by Smart Licensing Using Policy: added by a CSLU
    push, or that sent a usage (RUM) report; each with its latest report's time and mode
    (``last_report_at``, ``last_utility_mode``), read by index per row of the page."""
    reports = RumReport.objects.filter(product_instance=OuterRef("pk"))
    latest = reports.order_by("-received_at", "-id")
    return (
        ProductInstance.objects.filter(virtual_account=va)
        .filter(
            Exists(
                DeviceIdentity.objects.filter(product_instance=OuterRef("pk"), transport=DeviceIdentity.Transport.CSLU)
            )
            | Exists(reports)
        )
        .annotate(
            last_report_at=Subquery(latest.values("received_at")[:1]),
            last_utility_mode=Subquery(latest.values("utility_mode")[:1]),
        )
    )


def slp_report_summaries(pi_ids):
    """{product instance id: counts and times of its usage reports on their way to CSSM} (one query)."""
    not_acknowledged = Q(synced_at__isnull=True)
    rows = (
        RumReport.objects.filter(product_instance__in=pi_ids)
        .order_by()
        .values("product_instance")
        .annotate(
            reports=Count("id"),
            pending=Count("id", filter=not_acknowledged & Q(sent_at__isnull=True)),
            sent=Count("id", filter=not_acknowledged & Q(sent_at__isnull=False)),
            acknowledged=Count("id", filter=Q(synced_at__isnull=False)),
            requested=Count("id", filter=not_acknowledged & Q(sync_requested_at__isnull=False)),
            last_sent_at=Max("sent_at"),
            last_acknowledged_at=Max("synced_at"),
        )
    )
    return {row.pop("product_instance"): row for row in rows}


def usage_reports_of(va):
    """The usage (RUM) reports of the product instances of ``va``, each with its product instance."""
    return (
        RumReport.objects.filter(product_instance__virtual_account=va)
        .select_related("product_instance")
        .defer("payload", "header", "signature_value")
    )
