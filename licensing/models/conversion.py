"""Convert to Smart Licensing: Device Led Conversion (DLC) settings and the conversion history.

``ConversionSettings`` says which local virtual accounts accept DLC requests ("Enable Device
Led Conversion for all local Virtual Accounts, or ... only on selected local Virtual
Accounts"); ``Conversion`` is one request of one product instance, pending until the
synchronization with CSSM brings its result (the Conversion History tab).
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ConversionSettings(models.Model):
    class Mode(models.TextChoices):
        ALL = "all", "Enable Device Led Conversion for all local Virtual Accounts"
        SELECTED = "selected", "Enable Device Led Conversion only on selected local Virtual Accounts"

    account = models.OneToOneField(
        "licensing.LocalAccount", on_delete=models.CASCADE, related_name="conversion_settings"
    )
    # Until an administrator applies settings nothing converts ("Prior to a conversion request from
    # the device, the SSM On-Prem administrator needs to configure which ... are allowed").
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.SELECTED)
    enabled_virtual_accounts = models.ManyToManyField("licensing.VirtualAccount", blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"DLC settings of {self.account_id}: {self.mode}"


class Conversion(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCESS = "success", _("Conversion Successful")
        FAILED = "failed", _("Conversion Failed")
        ALREADY_CONVERTED = "already_converted", _("License Already Converted")

    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="conversions")
    virtual_account = models.ForeignKey(
        "licensing.VirtualAccount", on_delete=models.CASCADE, related_name="conversions"
    )
    # The product instance may be removed later; the history keeps its name and identifier.
    product_instance = models.ForeignKey(
        "licensing.ProductInstance", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversions"
    )
    product_instance_name = models.CharField(max_length=255)
    device_identifier = models.CharField(max_length=512, db_index=True)
    product_family = models.CharField(max_length=255, blank=True)
    # [{"name", "count", "tag", "pak"}, ...] as the device sent them (CONVERT message).
    licenses = models.JSONField(default=list)
    status = models.CharField(max_length=17, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(blank=True)
    # The device protocol's poll id, so a POLL finds its conversion.
    poll_id = models.CharField(max_length=64, blank=True, db_index=True)
    requested_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)  # handed to a synchronization
    decided_at = models.DateTimeField(null=True, blank=True)  # "Time of Conversion"

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["account", "status"], name="conversion_account_status"),
            models.Index(fields=["account", "requested_at"], name="conversion_account_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_at__isnull=False), name="conversion_decided_has_time"
            ),
        ]

    def __str__(self):
        return f"DLC {self.device_identifier} ({self.status})"
