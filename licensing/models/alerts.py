"""Alerts of a local account and its local virtual accounts (the Alerts tab).

An alert is opened by ``licensing.services.alerts.recompute_alerts`` when its cause exists and
auto-cleared when the cause is gone. ``key`` names the cause (e.g. the shortage of one license
in one virtual account, or one warning period of one expiring line group): at most one alert
per key is live (open or dismissed) in an account, which makes recomputing idempotent.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AlertQuerySet(models.QuerySet):
    def live(self):
        """Open or dismissed: the cause still exists."""
        return self.exclude(status=Alert.Status.CLEARED)

    def visible(self, now):
        """What the Alerts tab lists at ``now``: open, and not hidden by Remind Later."""
        return self.filter(status=Alert.Status.OPEN).filter(Q(remind_until__isnull=True) | Q(remind_until__lte=now))


class Alert(models.Model):
    class Type(models.TextChoices):
        INSUFFICIENT_LICENSES = "insufficient_licenses", _("Insufficient Licenses")
        LICENSES_EXPIRING = "licenses_expiring", _("Licenses Expiring")
        PI_FAILED_TO_CONNECT = "pi_failed_to_connect", _("Product Instance Failed to Connect")
        PI_FAILED_TO_RENEW = "pi_failed_to_renew", _("Product Instance Failed to Renew")
        # The rest of the guide's Alerts tab list that the server itself can raise.
        LICENSES_EXPIRED = "licenses_expired", _("Licenses Expired")
        DUPLICATE_LICENSES = "duplicate_licenses", _("Duplicate Licenses")
        SYNC_REQUIRED = "synchronization_required", _("Synchronization Required")
        SYNC_OVERDUE = "synchronization_overdue", _("Synchronization Overdue")
        REREGISTRATION_REQUIRED = "reregistration_required", _("Re-registration Required")
        # A token or virtual account reached its hourly limit of new product instances.
        REGISTRATION_LIMITED = "registration_limited", _("Registration Limit Reached")
        # A REGISTER tried to take over or move a product instance of this virtual account and was
        # refused (licensing.services.device_reregistration).
        REREGISTRATION_REFUSED = "reregistration_refused", _("Re-registration Refused")
        # What CSSM or the synchronization calendar says (licensing.services.cssm_alerts).
        AGREEMENT_UPDATED = "agreement_updated", _("Updated Smart License Agreement")
        AGREEMENT_PENDING = "agreement_pending", _("Smart Licensing Agreement Pending")
        ONPREM_REMOVED = "onprem_removed", _("SSM On-Prem Unregistered and Removed")
        AUTHORIZATION_PENDING = "authorization_pending", _("Authorization Pending")
        AUTHORIZATION_READY = "authorization_ready", _("SSM On-Prem Authorization File Ready")
        SYNC_DEADLINE = "sync_deadline", _("Upcoming SSM On-Prem Sync Deadline (30 Day)")
        ONPREM_EXPIRED = "onprem_expired", _("SSM On-Prem expired and removed (90 Days of no sync)")
        VERSION_NOTE = "version_note", _("Version Compatibility Note")
        # Specific License Reservation (licensing.services.reservations): a reserved term ended;
        # CSSM returned a product instance's reserved licenses (the synchronization).
        RESERVED_EXPIRED = "reserved_license_expired", _("Reserved License Expired")
        RESERVED_RETURNED = "reserved_returned", _("Reserved Licenses Returned to Smart Account")

    class Severity(models.TextChoices):
        MAJOR = "major", _("Major")
        MINOR = "minor", _("Minor")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DISMISSED = "dismissed", _("Dismissed")
        CLEARED = "cleared", _("Cleared")

    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="alerts")
    virtual_account = models.ForeignKey(
        "licensing.VirtualAccount", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    license = models.ForeignKey(
        "licensing.LicenseDefinition", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    product_instance = models.ForeignKey(
        "licensing.ProductInstance", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    alert_type = models.CharField(max_length=24, choices=Type.choices)
    severity = models.CharField(max_length=5, choices=Severity.choices)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.OPEN, db_index=True)
    key = models.CharField(max_length=255)
    # The warning period this alert belongs to (days), for the ladders; 0 when there is none.
    stage = models.PositiveIntegerField(default=0)
    message = models.TextField()
    # When the alert must be addressed; None is "Now".
    action_due = models.DateTimeField(null=True, blank=True)
    # Remind Later: hidden until then.
    remind_until = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cleared_at = models.DateTimeField(null=True, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["severity", "action_due", "id"]  # "Severity, and then Action Due" (major < minor)
        constraints = [
            models.UniqueConstraint(
                fields=["account", "key"], condition=~Q(status="cleared"), name="alert_one_live_per_key"
            ),
        ]
        indexes = [models.Index(fields=["account", "status"], name="alert_account_status")]

    def __str__(self):
        return f"{self.get_severity_display()}: {self.message}"
