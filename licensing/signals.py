"""Keep the licensing engine's periodic tasks in django-celery-beat's schedule (editable at run time)."""

from django.db.models.signals import post_migrate
from django.dispatch import receiver

ALERTS_EVERY_MINUTES = 60


@receiver(post_migrate)
def ensure_periodic_tasks(sender, **kwargs):
    if getattr(sender, "name", None) != "licensing":
        return
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=ALERTS_EVERY_MINUTES, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.get_or_create(
        name="Recompute license alerts",
        defaults={"task": "licensing.recompute_alerts", "interval": every, "enabled": True},
    )
