"""Keep the High Availability widget's periodic task in django-celery-beat's schedule."""

from django.conf import settings
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from core.periodic_tasks import keep_periodic_task


@receiver(post_migrate)
def ensure_periodic_tasks(sender, **kwargs):
    # Sent per app with models: this app has none, so it follows the core's ("onprem").
    if getattr(sender, "label", None) != "onprem":
        return
    keep_periodic_task(
        "High availability: cluster events",
        "onprem.ha_sync_events",
        every=settings.ONPREM_HA_EVENTS_SECONDS,
        follow_setting=True,
    )
