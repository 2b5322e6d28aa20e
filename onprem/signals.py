"""Keep the core's periodic tasks in django-celery-beat's schedule (editable at run time)."""
from django.conf import settings
from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def ensure_periodic_tasks(sender, **kwargs):
    if getattr(sender, "name", None) != "onprem":
        return
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(
        every=settings.ONPREM_HEARTBEAT_SECONDS, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.update_or_create(
        name="Worker heartbeat", defaults={"task": "onprem.heartbeat", "interval": every, "enabled": True}
    )
