"""Product instances: the devices registered to a local virtual account.

Small on purpose: what license compliance and the lists need. What the device protocol keeps
beside a product instance (identity details, ID certificates, nonces, usage reports) is in
``devices.py`` and ``pki.py``.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ProductInstance(models.Model):
    """One smart-enabled product instance, identified by its UDI within a local account."""

    class RedundancyRole(models.TextChoices):
        NONE = "none", _("None")
        ACTIVE = "active", _("Active")
        STANDBY = "standby", _("Standby")

    # Kept beside the virtual account so the database can hold one UDI per local account (a
    # constraint cannot reach through a foreign key); save() keeps the two in step, and a
    # transfer moves a product instance between virtual accounts of the same local account.
    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="product_instances")
    virtual_account = models.ForeignKey(
        "licensing.VirtualAccount", on_delete=models.CASCADE, related_name="product_instances"
    )
    udi_pid = models.CharField("UDI PID", max_length=255)
    udi_serial_number = models.CharField("UDI serial number", max_length=255)
    hostname = models.CharField(max_length=255, blank=True)
    product_name = models.CharField(max_length=255, blank=True)
    registered_at = models.DateTimeField()
    last_contact_at = models.DateTimeField(null=True, blank=True)
    # Application redundancy ("About Application Redundancy Support"): peers that share one
    # license carry the same group key (the application's unique identifier); a STANDBY peer's
    # usage of a license is not counted while its ACTIVE peer uses the same license.
    redundancy_role = models.CharField(max_length=8, choices=RedundancyRole.choices, default=RedundancyRole.NONE)
    redundancy_group = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["hostname", "udi_pid", "udi_serial_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "udi_pid", "udi_serial_number"], name="product_instance_unique_udi"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "redundancy_group"], name="pi_redundancy_group"),
            # The lists' order: per local account as the API device list sorts (Meta.ordering + pk),
            # per virtual account as the workspace page does (name, pk): a page, deep ones too,
            # walks the index instead of sorting every product instance (docs/performance.md).
            models.Index(
                fields=["account", "hostname", "udi_pid", "udi_serial_number", "id"], name="pi_account_list_order"
            ),
            models.Index(fields=["virtual_account", "hostname", "id"], name="pi_va_list_order"),
            # The few product instances that failed to renew (no contact for the renewal period),
            # whose usage compliance leaves out: found by index, not by reading them all
            # (licensing/services/compliance.py, _in_use).
            models.Index(fields=["virtual_account", "last_contact_at"], name="pi_va_last_contact"),
        ]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self):
        return self.hostname or f"UDI_PID:{self.udi_pid}; UDI_SN:{self.udi_serial_number}"

    def save(self, *args, **kwargs):
        va_account_id = self.virtual_account.account_id
        if self.account_id is None:
            self.account_id = va_account_id
        elif self.account_id != va_account_id:
            raise ValueError("A product instance belongs to a virtual account of its own local account.")
        super().save(*args, **kwargs)
