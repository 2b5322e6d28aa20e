"""Keep the licensing engine's periodic tasks in django-celery-beat's schedule (editable at run time)."""

from django.db.models.signals import post_migrate
from django.dispatch import receiver

from core.periodic_tasks import keep_periodic_task

ALERTS_EVERY_MINUTES = 60


@receiver(post_migrate)
def ensure_periodic_tasks(sender, **kwargs):
    if getattr(sender, "name", None) != "licensing":
        return
    keep_periodic_task(
        "Recompute license alerts", "licensing.recompute_alerts", every=ALERTS_EVERY_MINUTES, period="minutes"
    )
