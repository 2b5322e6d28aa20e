"""Cross-cutting records: the event log and the worker heartbeat."""
from django.conf import settings
from django.db import models


class Event(models.Model):
    """One line of the event log. Append-only: services create them through ``onprem.events.record``."""

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


class WorkerHeartbeat(models.Model):
    """Written by a periodic Celery task: proof that beat schedules and a worker runs."""

    hostname = models.CharField(max_length=255, unique=True)
    last_seen = models.DateTimeField()

    def __str__(self):
        return f"{self.hostname} @ {self.last_seen}"
