"""Keep the core's periodic task (the worker heartbeat) in django-celery-beat's schedule."""

from django.conf import settings
from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def ensure_periodic_tasks(sender, **kwargs):
    if getattr(sender, "label", None) != "onprem":
        return
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(
        every=settings.ONPREM_HEARTBEAT_SECONDS, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.update_or_create(
        name="Worker heartbeat", defaults={"task": "onprem.heartbeat", "interval": every, "enabled": True}
    )
