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
    # The embedded OAuth2 server's expired access tokens (accounts/tasks.py).
    hourly, _ = IntervalSchedule.objects.get_or_create(
        every=settings.ONPREM_CLEAR_TOKENS_SECONDS, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.update_or_create(
        name="Clear expired API tokens",
        defaults={"task": "accounts.clear_expired_tokens", "interval": hourly, "enabled": True},
    )
    # Daily: password expiration notices (Security widget).
    daily, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.DAYS)
    PeriodicTask.objects.update_or_create(
        name="Password expiration notices",
        defaults={"task": "accounts.password_expiration_notices", "interval": daily, "enabled": True},
    )
