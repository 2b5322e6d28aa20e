"""Keep the core's periodic task (the worker heartbeat) in django-celery-beat's schedule; drop the
per-process copies of the system settings when the row changes."""

from django.conf import settings
from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver

from . import process_settings
from .periodic_tasks import keep_periodic_task


@receiver(post_migrate)
def ensure_periodic_tasks(sender, **kwargs):
    if getattr(sender, "label", None) != "onprem":
        return
    keep_periodic_task(
        "Worker heartbeat", "onprem.heartbeat", every=settings.ONPREM_HEARTBEAT_SECONDS, follow_setting=True
    )


@receiver(post_save, sender="onprem.SystemSettings")
@receiver(post_delete, sender="onprem.SystemSettings")
def _system_settings_changed(sender, **kwargs):
    # system_settings.cached() keeps the row per process: every process reads it again.
    process_settings.bump()
