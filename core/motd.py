"""The Message of the Day (Settings widget): shown once, on the first page after logging in."""

from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .system_settings import current


@receiver(user_logged_in, dispatch_uid="core.motd")
def show_message_of_the_day(sender, request, user, **kwargs):
    text = current().message_of_the_day
    if text and request is not None and hasattr(request, "_messages"):
        messages.info(request, text, extra_tags="motd")
