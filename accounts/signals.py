"""Sign-in events for the event log."""
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from onprem import events


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    events.record("auth.login", actor=user, user_name=user.username)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # Never log the password; the username is what the person typed, trimmed.
    events.record("auth.login_failed", user_name=str(credentials.get("username", ""))[:150])
