"""Local accounts, their local virtual accounts, and requests for access to them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

DEFAULT_VIRTUAL_ACCOUNT_NAME = "Default"


class LocalAccount(models.Model):
    """A tenant of the server, tied one-to-one to a Cisco Smart Account / Virtual Account pair.

    Created by "Request an Account" (status Requested) or by an administrator; approved
    (Pending Registration), registered with CSSM (Active); deactivated and re-activated by
    an administrator; a declined request ends Rejected.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        PENDING_REGISTRATION = "pending_registration", _("Pending Registration")
        ACTIVE = "active", _("Active")
        DEACTIVATED = "deactivated", _("Deactivated")
        REJECTED = "rejected", _("Rejected")

    name = models.CharField(max_length=100)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.REQUESTED, db_index=True)
    cisco_smart_account = models.CharField(max_length=255)
    cisco_virtual_account = models.CharField(max_length=255)
    description = models.CharField(max_length=255, blank=True)
    # Whether registration tokens may allow export-controlled functionality (set from CSSM).
    export_control_allowed = models.BooleanField(default=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requester_email = models.EmailField(blank=True)
    message_to_creator = models.TextField(blank=True, max_length=2000)
    decision_reason = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # A rejected request does not keep its name from being requested again.
            models.UniqueConstraint(fields=["name"], condition=~Q(status="rejected"), name="account_unique_live_name"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE


class VirtualAccount(models.Model):
    """A local virtual account. Every local account has exactly one Default one (renamable)."""

    account = models.ForeignKey(LocalAccount, on_delete=models.CASCADE, related_name="virtual_accounts")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=255, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="va_unique_name_in_account"),
            # At most one Default per account in the database; the services keep "at least one".
            models.UniqueConstraint(fields=["account"], condition=Q(is_default=True), name="va_one_default"),
        ]

    def __str__(self):
        return self.name


class AccessRequest(models.Model):
    """ "Request Access to an Existing Account": decided by an Account or System Administrator."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        DECLINED = "declined", _("Declined")

    account = models.ForeignKey(LocalAccount, on_delete=models.CASCADE, related_name="access_requests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_requests")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    company = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "user"], condition=Q(status="pending"), name="access_request_one_pending"
            ),
        ]
