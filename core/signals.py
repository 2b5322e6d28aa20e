"""Keep the core's periodic task (the worker heartbeat) in django-celery-beat's schedule."""

from django.conf import settings
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from .periodic_tasks import keep_periodic_task


@receiver(post_migrate)
def ensure_periodic_tasks(sender, **kwargs):
    if getattr(sender, "label", None) != "onprem":
        return
    keep_periodic_task(
        "Worker heartbeat", "onprem.heartbeat", every=settings.ONPREM_HEARTBEAT_SECONDS, follow_setting=True
    )
