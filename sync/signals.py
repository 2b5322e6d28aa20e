"""Keep the synchronization's periodic tasks in django-celery-beat's schedule (editable at run time:
created once, never overwritten, so an administrator's change to an interval survives a migrate)."""

from django.conf import settings
from django.db.models.signals import post_migrate
from django.dispatch import receiver

DAY_SECONDS = 24 * 3600


@receiver(post_migrate)
def ensure_periodic_tasks(sender, **kwargs):
    if getattr(sender, "name", None) != "sync":
        return
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    check, _ = IntervalSchedule.objects.get_or_create(
        every=settings.ONPREM_SYNC_CHECK_SECONDS, period=IntervalSchedule.SECONDS
    )
    daily, _ = IntervalSchedule.objects.get_or_create(every=DAY_SECONDS, period=IntervalSchedule.SECONDS)
    for name, task, interval in (
        ("Scheduled synchronization with CSSM", "sync.run_scheduled", check),
        ("Synchronization overdue alerts", "sync.check_overdue", daily),
        ("Purge expired device nonces", "sync.purge_expired_nonces", daily),
    ):
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": interval, "enabled": True})
