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
