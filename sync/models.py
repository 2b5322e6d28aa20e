"""What the On-Prem keeps about its registration and synchronization with CSSM.

* ``SyncSettings`` (one row): the schedule, the global data privacy, the CSSM URL, the pinned
  CSSM root certificate.
* ``AccountSync`` (one per registered local account): the SSM On-Prem record CSSM knows (uid,
  CSSM-side name, ID key and certificate), the watermark (the last response applied), the
  full-sync-required flag, per-account overrides, and the progress of a running sync.
* ``SyncedProductInstance``: what CSSM has acknowledged of each product instance (a digest of
  what was sent), from which the next standard (delta) request is computed.
* ``SyncRecord``: the history: every registration / synchronization request and its outcome.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.crypto import EncryptedTextField


class SyncSettings(models.Model):
    """The Synchronization widget's Schedules tab (a single row, pk=1)."""

    class Frequency(models.TextChoices):
        # "By default, all accounts are synchronized every 30 days from the completion of their last sync."
        DEFAULT = "default", _("Every 30 days after the last synchronization")
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")
        MONTHLY = "monthly", _("Monthly")

    scheduled_enabled = models.BooleanField(default=True)
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.DEFAULT)
    hour = models.PositiveSmallIntegerField(default=2)
    minute = models.PositiveSmallIntegerField(default=0)
    day_of_week = models.PositiveSmallIntegerField(default=0, help_text="0 = Monday")
    day_of_month = models.PositiveSmallIntegerField(default=1)
    # Global data privacy: True = the field is excluded from synchronization requests.
    privacy_hostname = models.BooleanField(default=False)
    privacy_ip_address = models.BooleanField(default=False)
    privacy_mac_address = models.BooleanField(default=False)
    # Empty: settings.ONPREM_CSSM_URL.
    cssm_url = models.URLField(max_length=500, blank=True)
    # The CSSM root every document must chain to: configured, or pinned from the first
    # Authorization (trust on first use).
    cssm_root_pem = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "synchronization settings"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="sync_settings_singleton")]

    def __str__(self):
        return "Synchronization settings"


class AccountSync(models.Model):
    """The registration and synchronization state of one local account."""

    class Status(models.TextChoices):
        IDLE = "idle", _("Idle")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("In progress")

    account = models.OneToOneField("licensing.LocalAccount", on_delete=models.CASCADE, related_name="sync_state")
    # The SSM On-Prem UID CSSM knows this local account by (stable across re-registrations).
    uid = models.CharField(max_length=64, unique=True)
    onprem_name = models.CharField(max_length=255, blank=True)  # CSSM-side name (may be renamed there)
    registered_at = models.DateTimeField(null=True, blank=True)
    # The ID key signs SyncRequests; CSSM certifies it at registration and renews it at every sync.
    id_private_key = EncryptedTextField(blank=True)
    id_certificate_pem = models.TextField(blank=True)
    id_certificate_not_after = models.DateTimeField(null=True, blank=True)
    # CSSM's certificate chain above the ID certificate ([issuing CA, root] as PEM, concatenated).
    chain_pem = models.TextField(blank=True)
    root_pem = models.TextField(blank=True)
    # An outstanding RegistrationRequest: its keys wait here until the Authorization comes back.
    pending_request_id = models.CharField(max_length=64, blank=True)
    pending_reregistration = models.BooleanField(default=False)
    pending_id_private_key = EncryptedTextField(blank=True)
    pending_signing_private_key = EncryptedTextField(blank=True)
    # The watermark: the response_id of the last Authorization / SyncResponse applied.
    last_response_id = models.CharField(max_length=64, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)  # last successful synchronization
    last_attempt_at = models.DateTimeField(null=True, blank=True)  # last scheduled attempt (success or not)
    last_sync_result = models.CharField(max_length=8, blank=True)
    last_sync_mode = models.CharField(max_length=8, blank=True)
    last_sync_type = models.CharField(max_length=8, blank=True)
    full_sync_required = models.BooleanField(default=False)
    product_instances_on_cssm = models.PositiveIntegerField(null=True, blank=True)
    # "Disable Scheduled Synchronization" for this account.
    sync_disabled = models.BooleanField(default=False)
    # Per-account data privacy (Actions > Data Privacy...): overrides the global settings when on.
    privacy_override = models.BooleanField(default=False)
    privacy_hostname = models.BooleanField(default=False)
    privacy_ip_address = models.BooleanField(default=False)
    privacy_mac_address = models.BooleanField(default=False)
    # Progress of a "Synchronization Now" run in the background (the page polls it).
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.IDLE)
    status_message = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["sync_disabled", "last_sync_at"], name="accountsync_due")]

    def __str__(self):
        return f"sync state of {self.account_id} ({self.uid})"

    @property
    def is_registered(self):
        return self.registered_at is not None and bool(self.id_certificate_pem)


class SyncedProductInstance(models.Model):
    """A product instance as CSSM last acknowledged it (the digest of what was sent)."""

    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="+")
    identifier = models.CharField(max_length=512)
    digest = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "identifier"], name="synced_pi_once")]

    def __str__(self):
        return self.identifier


class SyncRecord(models.Model):
    """One registration or synchronization: the request, and the response that answered it."""

    class Kind(models.TextChoices):
        REGISTRATION = "registration", _("Registration")
        REREGISTRATION = "reregistration", _("Re-registration")
        SYNC = "sync", _("Synchronization")

    class Mode(models.TextChoices):
        ONLINE = "online", _("Online")
        MANUAL = "manual", _("Manual")

    class Result(models.TextChoices):
        PENDING = "pending", _("Waiting for the response")
        SUCCESS = "success", _("Successful")
        FAILED = "failed", _("Failed")

    account = models.ForeignKey(
        "licensing.LocalAccount", null=True, on_delete=models.SET_NULL, related_name="sync_records"
    )
    account_name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    mode = models.CharField(max_length=8, choices=Mode.choices)
    sync_type = models.CharField(max_length=8, blank=True)  # standard / full (syncs only)
    result = models.CharField(max_length=8, choices=Result.choices, default=Result.PENDING)
    message = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, unique=True)
    response_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # What the request carried, applied to the watermark when its response is applied:
    # {"pis": {identifier: digest}, "removed": [...], "rum": [ids], "exports": {...}, "dlc": {...}}
    sent = models.JSONField(default=dict, blank=True)
    request_text = models.TextField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-started_at"], name="syncrecord_account_time"),
            models.Index(fields=["account", "result"], name="syncrecord_account_result"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.request_id} ({self.result})"
