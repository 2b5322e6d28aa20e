"""Sign-in events for the event log; the app's periodic tasks after migrate."""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from core import events


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    events.record("auth.login", actor=user, user_name=user.username)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # Never log the password; the username is what the person typed, trimmed.
    events.record("auth.login_failed", user_name=str(credentials.get("username", ""))[:150])


@receiver(post_migrate)
def ensure_periodic_tasks(sender, **kwargs):
    """Keep the accounts app's periodic tasks in django-celery-beat's schedule (editable at run time)."""
    if getattr(sender, "name", None) != "accounts":
        return
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

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
