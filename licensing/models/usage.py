"""License usage: how many of a license a product instance reports using (a count, not seats)."""

from django.db import models
from django.db.models import Q


class LicenseUsage(models.Model):
    """One row per (product instance, license). A count of zero is no row: the service deletes it."""

    product_instance = models.ForeignKey(
        "licensing.ProductInstance", on_delete=models.CASCADE, related_name="license_usages"
    )
    license = models.ForeignKey("licensing.LicenseDefinition", on_delete=models.PROTECT, related_name="usages")
    count = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product_instance", "license"], name="usage_one_row_per_pi_license"),
            models.CheckConstraint(condition=Q(count__gte=1), name="usage_count_positive"),
        ]

    def __str__(self):
        return f"{self.product_instance_id} uses {self.count} × {self.license_id}"


# Counters are split in shards by product instance id so that devices of one virtual account
# authorizing at the same moment rarely wait for the same counter row (docs/licensing-engine.md).
USAGE_TOTAL_SHARDS = 16


class UsageTotal(models.Model):
    """The running sum of ``LicenseUsage.count`` per (virtual account, license, shard).

    Kept by database triggers (migration 0008) on every write to ``LicenseUsage`` and on a
    product instance moving between virtual accounts, whatever code path writes: the compliance
    service reads these few rows instead of summing every product instance's usage, so an
    AUTHORIZE costs the same at 300 or 300,000 product instances. Never written by Python code
    except ``licensing.services.usage_totals.rebuild``.

    No foreign-key constraints (``db_constraint=False``, ``DO_NOTHING``): a trigger may touch a
    counter row while Django deletes a virtual account and its product instances in one
    transaction, in an order the deletion collector chooses.
    """

    virtual_account = models.ForeignKey(
        "licensing.VirtualAccount", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    license = models.ForeignKey(
        "licensing.LicenseDefinition", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    shard = models.SmallIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["virtual_account", "license", "shard"], name="usage_total_one_row"),
        ]

    def __str__(self):
        return f"VA {self.virtual_account_id} uses {self.count} × {self.license_id} (shard {self.shard})"


class RedundancyExclusion(models.Model):
    """Usage of STANDBY peers that compliance leaves out: their ACTIVE peer uses the same license.

    One row per (local account, redundancy group, license, virtual account of the STANDBY
    peers) holding the sum of those peers' counts; a group with nothing left out has no row.
    Database triggers (migration 0008) recompute a group's rows whenever a write touches one of
    its members (usage, role, group, virtual account, deletion), so compliance reads these rows
    instead of pairing every STANDBY peer with its ACTIVE one. No foreign keys, for the same
    reason as ``UsageTotal``.
    """

    account = models.ForeignKey(
        "licensing.LocalAccount", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    redundancy_group = models.CharField(max_length=255)
    license = models.ForeignKey(
        "licensing.LicenseDefinition", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    virtual_account = models.ForeignKey(
        "licensing.VirtualAccount", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    count = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "redundancy_group", "license", "virtual_account"],
                name="redundancy_exclusion_one_row",
            ),
        ]
        indexes = [models.Index(fields=["virtual_account", "license"], name="redundancy_exclusion_va")]

    def __str__(self):
        return f"{self.redundancy_group}: {self.count} × {self.license_id} left out in VA {self.virtual_account_id}"
