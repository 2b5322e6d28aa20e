"""What the usage triggers keep (``UsageTotal``, ``RedundancyExclusion``): read, check, rebuild.

Database triggers keep both tables (licensing/migrations/0008_usage_totals.py); nothing in
Python writes them except ``rebuild``. ``drift`` compares them with what the usage rows say:
the tests and ``manage.py usage_totals --check`` use it, and ``--rebuild`` repairs a database
whose triggers were bypassed (rows loaded with triggers disabled, say).
"""

from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Sum

from ..models import LicenseUsage, ProductInstance, RedundancyExclusion, UsageTotal
from ..models.usage import USAGE_TOTAL_SHARDS


def totals_query(virtual_account_ids):
    """(virtual account id, license id, sum of its product instances' usage counts) rows."""
    return (
        UsageTotal.objects.filter(virtual_account_id__in=list(virtual_account_ids))
        .values("virtual_account_id", "license_id")
        .annotate(total=Sum("count"))
        .values_list("virtual_account_id", "license_id", "total")
        .order_by()
    )


def _kept_totals():
    kept: defaultdict[tuple[int, int], int] = defaultdict(int)  # {(va id, license id): count}
    for va_id, license_id, count in UsageTotal.objects.values_list("virtual_account_id", "license_id", "count"):
        kept[(va_id, license_id)] += count
    return {key: count for key, count in kept.items() if count}


def _summed_totals():
    rows = (
        LicenseUsage.objects.values("product_instance__virtual_account_id", "license_id")
        .annotate(total=Sum("count"))
        .order_by()
    )
    return {(r["product_instance__virtual_account_id"], r["license_id"]): r["total"] for r in rows}


def _kept_redundancy():
    return {
        (r.account_id, r.redundancy_group, r.license_id, r.virtual_account_id): r.count
        for r in RedundancyExclusion.objects.all()
    }


def _summed_redundancy():
    """STANDBY usage whose ACTIVE peer uses the same license, from the rows (the rule itself)."""
    roles = ProductInstance.RedundancyRole
    active_peer_uses_it = LicenseUsage.objects.filter(
        license_id=OuterRef("license_id"),
        product_instance__account_id=OuterRef("product_instance__account_id"),
        product_instance__redundancy_group=OuterRef("product_instance__redundancy_group"),
        product_instance__redundancy_role=roles.ACTIVE,
    )
    rows = (
        LicenseUsage.objects.filter(product_instance__redundancy_role=roles.STANDBY)
        .exclude(product_instance__redundancy_group="")
        .filter(Exists(active_peer_uses_it))
        .values(
            "product_instance__account_id",
            "product_instance__redundancy_group",
            "license_id",
            "product_instance__virtual_account_id",
        )
        .annotate(total=Sum("count"))
        .order_by()
    )
    return {
        (
            r["product_instance__account_id"],
            r["product_instance__redundancy_group"],
            r["license_id"],
            r["product_instance__virtual_account_id"],
        ): r["total"]
        for r in rows
    }


def _differences(kept, actual):
    return {
        key: (kept.get(key, 0), actual.get(key, 0))
        for key in kept.keys() | actual.keys()
        if kept.get(key, 0) != actual.get(key, 0)
    }


def drift():
    """{"totals": {...}, "redundancy": {...}}: each key where the kept number differs from the rows'
    ((kept, from the rows) pairs). Empty dicts when all is well."""
    return {
        "totals": _differences(_kept_totals(), _summed_totals()),
        "redundancy": _differences(_kept_redundancy(), _summed_redundancy()),
    }


def rebuild():
    """Recompute both tables from the usage rows, in one transaction (writers of usage wait on
    Postgres). Returns (total rows, redundancy rows)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE licensing_licenseusage, licensing_productinstance IN SHARE MODE")
        UsageTotal.objects.all().delete()
        RedundancyExclusion.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(f"""
                INSERT INTO licensing_usagetotal (virtual_account_id, license_id, shard, count)
                SELECT pi.virtual_account_id, u.license_id, pi.id % {USAGE_TOTAL_SHARDS}, SUM(u.count)
                FROM licensing_licenseusage u JOIN licensing_productinstance pi ON pi.id = u.product_instance_id
                GROUP BY pi.virtual_account_id, u.license_id, pi.id % {USAGE_TOTAL_SHARDS}""")
        RedundancyExclusion.objects.bulk_create(
            RedundancyExclusion(
                account_id=account_id,
                redundancy_group=group,
                license_id=license_id,
                virtual_account_id=va_id,
                count=count,
            )
            for (account_id, group, license_id, va_id), count in _summed_redundancy().items()
        )
    return UsageTotal.objects.count(), RedundancyExclusion.objects.count()
