"""License reservations (Specific License Reservation): licenses set aside for one product instance.

A reservation holds ``quantity`` licenses of one license for one product instance, from the
licenses of one type and end date (``end_date`` None: perpetual) of the product instance's
local virtual account. It counts against that virtual account's available quantity like usage
does, follows its product instance when the instance is transferred (it names the instance,
not the virtual account), and stays counted when its term ends: the guide's "Once a reserved
term license has expired, the available quantity is reduced due to licenses being used to
fulfill the expired reservation". Rules: docs/licensing-engine.md, "Reservations".
"""

from django.db import models
from django.db.models import Q


class LicenseReservation(models.Model):
    product_instance = models.ForeignKey(
        "licensing.ProductInstance", on_delete=models.CASCADE, related_name="reservations"
    )
    license = models.ForeignKey("licensing.LicenseDefinition", on_delete=models.PROTECT, related_name="+")
    license_type = models.CharField(max_length=12)
    # The reserved licenses' end date (inclusive); None for perpetual licenses.
    end_date = models.DateField(null=True, blank=True)
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["product_instance", "license", "end_date", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="reservation_quantity_positive"),
            models.UniqueConstraint(
                fields=["product_instance", "license", "end_date"],
                condition=Q(end_date__isnull=False),
                name="reservation_one_row_per_term",
            ),
            models.UniqueConstraint(
                fields=["product_instance", "license"],
                condition=Q(end_date__isnull=True),
                name="reservation_one_perpetual_row",
            ),
        ]
        indexes = [models.Index(fields=["end_date"], name="reservation_end_date")]

    def __str__(self):
        return f"{self.quantity} × {self.license_id} for {self.product_instance_id}"
