"""Cross-cutting records: the event log and the worker heartbeat."""

from django.conf import settings
from django.db import models


class Event(models.Model):
    """One line of the event log. Append-only: services create them through ``core.events.record``."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    event_type = models.CharField(max_length=64, db_index=True)
    severity = models.CharField(max_length=8)
    message = models.TextField()
    account = models.ForeignKey(
        "licensing.LocalAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    virtual_account = models.ForeignKey(
        "licensing.VirtualAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept beside the foreign key so the log still names a user after the user is removed.
    username = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="event_account_time"),
            models.Index(fields=["virtual_account", "-created_at"], name="event_va_time"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.event_type}: {self.message}"

    @property
    def title(self):
        """The event type's name in the active language (the log shows it, never the code)."""
        from core.events.messages import title_of

        return title_of(self.event_type)

    @property
    def severity_label(self):
        from core.events.messages import SEVERITY_LABELS

        return SEVERITY_LABELS.get(self.severity, self.severity)


class WorkerHeartbeat(models.Model):
    """Written by a periodic Celery task: proof that beat schedules and a worker runs."""

    hostname = models.CharField(max_length=255, unique=True)
    last_seen = models.DateTimeField()

    def __str__(self):
        return f"{self.hostname} @ {self.last_seen}"


# --- High Availability Status widget ----------------------------------------------------
class ClusterHost(models.Model):
    """What one server of the installation reports about itself: the widget's System Information.

    Each node writes its own row when ``serve`` starts, when its worker is ready and whenever its
    worker runs the cluster-event task (admin_widgets/ha/hosts.py); no node can measure another's
    memory or disk.
    """

    hostname = models.CharField(max_length=255, unique=True)
    addresses = models.JSONField(default=list)
    memory_bytes = models.BigIntegerField()
    disk_bytes = models.BigIntegerField()
    onprem_version = models.CharField(max_length=64)
    python_version = models.CharField(max_length=32)
    reported_at = models.DateTimeField()

    class Meta:
        ordering = ["hostname"]

    def __str__(self):
        return f"{self.hostname} ({self.onprem_version})"


class ClusterEventCursor(models.Model):
    """How far the pg_auto_failover monitor's event table has been copied into the event log.

    One row per monitor formation; the copy locks it, so two runs at once copy each monitor event
    once. ``node_states`` keeps each node's last reported state (a failover is a node that was a
    secondary reporting a primary's state) and ``monitor_down`` whether the last run could not
    reach the monitor (recorded once, and once again when it answers).
    """

    formation = models.CharField(max_length=128, unique=True)
    last_event_id = models.BigIntegerField(default=0)
    node_states = models.JSONField(default=dict)
    monitor_down = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.formation} @ {self.last_event_id}"


# --- Settings widget (Administration workspace) -----------------------------------------
def _hex_colour(value):
    from django.core.exceptions import ValidationError

    if not (len(value) == 7 and value.startswith("#") and all(c in "0123456789abcdefABCDEF" for c in value[1:])):
        raise ValidationError("Enter a colour as #rrggbb.")


class SystemSettings(models.Model):
    """The one row of system-wide settings the Settings widget edits (guide "Settings Widget").

    Read through ``core.system_settings.current()``, which caches it: every page shows the
    banner, so reading it must not cost a query per request.
    """

    # Messaging tab
    banner_text = models.CharField(max_length=500, blank=True)
    banner_on_login = models.BooleanField(default=False)
    banner_text_color = models.CharField(max_length=7, default="#000000", validators=[_hex_colour])
    # The guide: "Default is black text with red" background.
    banner_background_color = models.CharField(max_length=7, default="#e2231a", validators=[_hex_colour])
    login_message = models.TextField(max_length=2000, blank=True)
    # Syslog tab
    syslog_enabled = models.BooleanField(default=False)
    syslog_host = models.CharField(max_length=255, blank=True)
    syslog_port = models.PositiveIntegerField(default=514)
    # Language tab: the language of the login page and of users who chose none
    default_language = models.CharField(max_length=10, default="en")
    # Email tab
    smtp_host = models.CharField(max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(default=25)
    smtp_helo_domain = models.CharField(max_length=255, blank=True)
    smtp_from = models.EmailField(blank=True)
    smtp_auth_required = models.BooleanField(default=False)
    smtp_username = models.CharField(max_length=255, blank=True)
    smtp_password = models.TextField(blank=True)  # an core.crypto token, never the clear value
    smtp_starttls = models.BooleanField(default=False)
    # Time Settings tab: display only; storage stays UTC
    time_zone = models.CharField(max_length=64, default="UTC")
    # Message of the Day tab
    message_of_the_day = models.TextField(max_length=2000, blank=True)
    before_login_message = models.TextField(max_length=2000, blank=True)
    # Network widget: the SSM On-Prem Name (General tab) and the explicit HTTPS proxy (Proxy
    # tab) that registration and synchronization with CSSM go through.
    onprem_name = models.CharField(max_length=255, blank=True)
    proxy_enabled = models.BooleanField(default=False)
    proxy_host = models.CharField(max_length=255, blank=True)
    proxy_port = models.PositiveIntegerField(default=3128)
    proxy_username = models.CharField(max_length=255, blank=True)
    proxy_password = models.TextField(blank=True)  # an core.crypto token, never the clear value

    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "system settings"
        verbose_name_plural = "system settings"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="system_settings_single_row")]

    def __str__(self):
        return "System settings"
