"""What the device protocol keeps beside a product instance: identity details, nonces, RUM
reports and requests pending a synchronization with CSSM."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class DeviceIdentity(models.Model):
    """The details a product instance sent at registration (SUDI beyond PID/SN, addresses, agent)."""

    class Transport(models.TextChoices):
        SMART_TRANSPORT = "smart_transport", "Smart Transport"
        CALL_HOME = "call_home", "Smart Call Home"
        CSLU = "cslu", "Smart Licensing Using Policy"

    product_instance = models.OneToOneField(
        "licensing.ProductInstance", on_delete=models.CASCADE, primary_key=True, related_name="device"
    )
    udi_vid = models.CharField(max_length=64, blank=True)
    uuid = models.CharField(max_length=64, blank=True)
    suvi = models.CharField(max_length=255, blank=True)
    host_identifier = models.CharField(max_length=255, blank=True)
    mac_address = models.CharField(max_length=64, blank=True)
    ip_address = models.CharField(max_length=64, blank=True)
    software_tag = models.CharField(max_length=255, blank=True)
    product_type = models.CharField(max_length=64, blank=True)
    agent_version = models.CharField(max_length=64, blank=True)
    transport = models.CharField(max_length=16, choices=Transport.choices, default=Transport.SMART_TRANSPORT)
    registration_token = models.ForeignKey(
        "licensing.RegistrationToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # From the registration token: may this instance turn on export-controlled functionality.
    export_controlled = models.BooleanField(default=False)
    # Set once, when a REGISTER created the product instance (for the registration limits):
    # the token and virtual account it was created with and when, counted per hour.
    created_with_token = models.ForeignKey(
        "licensing.RegistrationToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_in_virtual_account = models.ForeignKey(
        "licensing.VirtualAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(null=True, blank=True)
    # SLP devices push usage without a registration token: their key is pinned at the first push.
    pinned_key_sha256 = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["mac_address"], name="device_mac"),
            models.Index(fields=["uuid"], name="device_uuid"),
            models.Index(fields=["created_with_token", "created_at"], name="device_created_token"),
            models.Index(fields=["created_in_virtual_account", "created_at"], name="device_created_va"),
        ]

    def __str__(self):
        return f"device of {self.product_instance_id}"


class DeviceNonce(models.Model):
    """A nonce a device used; the unique constraint makes a replay fail even in a race.

    ``device_key`` is the SHA-256 of the device's UDI (PID and serial number). Rows can be
    deleted after ``expires_at``: by then a message carrying the nonce is outside the 24-hour
    timestamp window anyway.
    """

    device_key = models.CharField(max_length=64)
    nonce = models.CharField(max_length=128)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device_key", "nonce"], name="device_nonce_once")]

    def __str__(self):
        return self.nonce


class RumReport(models.Model):
    """A Smart Licensing Using Policy usage (RUM) report, stored as the device signed it.

    ``payload`` is the report's signed payload string byte-for-byte, with its signature, so the
    report can be forwarded to CSSM and verified there. Unique per product instance and report
    id: the same report sent twice is stored and applied once.
    """

    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="rum_reports")
    product_instance = models.ForeignKey(
        "licensing.ProductInstance", null=True, blank=True, on_delete=models.SET_NULL, related_name="rum_reports"
    )
    device_key = models.CharField(max_length=64)
    report_id = models.CharField(max_length=128)
    header = models.JSONField()
    payload = models.TextField()
    signing_type = models.CharField(max_length=32)
    signature_key = models.CharField(max_length=255)
    signature_value = models.TextField()
    received_at = models.DateTimeField()
    # The device measured in utility mode (its signed payload says ``"utility_mode": true``).
    utility_mode = models.BooleanField(default=False)
    # Its way to CSSM (Inventory > SL Using Policy): asked for by "Synchronize usage information
    # with CSSM" (the next scheduled run synchronizes the account), carried by a SyncRequest
    # (``sent_at``, the latest one), acknowledged by name in CSSM's SyncResponse (``synced_at``).
    # Every report not yet acknowledged goes in every synchronization request.
    sync_requested_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "device_key", "report_id"], name="rum_report_once"),
        ]
        indexes = [
            models.Index(fields=["account", "synced_at"], name="rum_account_synced"),
            # The SL Using Policy tab: a product instance's reports, newest first.
            models.Index(fields=["product_instance", "received_at"], name="rum_pi_received"),
        ]

    @property
    def sync_status(self):
        """ "acknowledged", "sent" or "pending" (Inventory > SL Using Policy)."""
        if self.synced_at:
            return "acknowledged"
        return "sent" if self.sent_at else "pending"

    def __str__(self):
        return f"RUM report {self.report_id}"


class DeviceRequest(models.Model):
    """An export-control request (authorize / return) waiting for a synchronization.

    (Device Led Conversion requests are ``Conversion`` rows of licensing.services.conversion.)

    The device is answered ``OK_POLL`` with ``poll_id``; the synchronization decides it
    (``licensing.services.device_requests.decide_request``) and the next POLL gets ``COMPLETE``.
    """

    class Kind(models.TextChoices):
        EXPORT_AUTHORIZE = "export_authorize", _("Export Control Authorization")
        EXPORT_RETURN = "export_return", _("Export Control Authorization Return")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        COMPLETE = "complete", _("Complete")

    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="device_requests")
    product_instance = models.ForeignKey(
        "licensing.ProductInstance", on_delete=models.CASCADE, related_name="device_requests"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    poll_id = models.CharField(max_length=64, unique=True)
    items = models.JSONField(default=list)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    result = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["account", "status"], name="devreq_account_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_at__isnull=False), name="devreq_decided_has_time"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.poll_id} ({self.status})"
