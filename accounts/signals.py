"""Sign-in events for the event log; the app's periodic tasks after migrate."""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver

from core import events, process_settings
from core.periodic_tasks import keep_periodic_task


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    events.record("auth.login", actor=user, user_name=user.username)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # Never log the password; the username is what the person typed, trimmed.
    events.record("auth.login_failed", user_name=str(credentials.get("username", ""))[:150])


@receiver(post_migrate)
def ensure_periodic_tasks(sender, **kwargs):
    """Keep the accounts app's periodic tasks in django-celery-beat's schedule."""
    if getattr(sender, "name", None) != "accounts":
        return
    # The embedded OAuth2 server's expired access tokens (accounts/tasks.py).
    keep_periodic_task(
        "Clear expired API tokens",
        "accounts.clear_expired_tokens",
        every=settings.ONPREM_CLEAR_TOKENS_SECONDS,
        follow_setting=True,
    )
    # Daily: password expiration notices (Security widget).
    keep_periodic_task(
        "Password expiration notices",
        "accounts.password_expiration_notices",
        every=1,
        period="days",
        follow_setting=True,
    )


@receiver(post_save, sender="accounts.SecurityPolicy")
@receiver(post_delete, sender="accounts.SecurityPolicy")
def _policy_changed(sender, **kwargs):
    # The device path keeps the policy per process (password_policy.cached): every process reads it again.
    process_settings.bump()
