"""Forgot Password: mail a one-time link to choose a new password.

The login screen's form must not tell which user names exist, by its answer or by how long it
takes. So the request does the same work whatever name was typed: it queues one task with the
name and answers. The task, in the Celery worker, looks the user up (local, enabled, with an
email address), makes the link with Django's password-reset token generator and records the
event, whose A.5 mail (``accounts.notifications``) carries the link; for any other name it does
nothing. The token is tied to the password hash and the last login, so the link works once.
"""

import datetime
import logging
from urllib.parse import urljoin

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from core import events, mail
from core.models import Event

logger = logging.getLogger(__name__)

# One link per user per this many minutes, so the form cannot be used to flood a mailbox.
RESEND_AFTER = datetime.timedelta(minutes=5)


def request_link(username, site_url, language):
    """Queue the link for ``username`` (``site_url``: this server's address as the user reached it).

    When the task broker cannot take the task, the work is done now rather than lost; only then
    does the answer's timing depend on the name.
    """
    from kombu.exceptions import OperationalError

    from accounts.tasks import send_password_reset_link

    try:
        send_password_reset_link.delay(username, site_url, language)
    except (OperationalError, OSError) as error:
        logger.warning("The task broker is unavailable (%s); making the password reset link now.", type(error).__name__)
        send_link(username, site_url, language)


def send_link(username, site_url, language):
    """Mail ``username`` a link if they are a local, enabled user with an email address and had
    none in the last ``RESEND_AFTER``; returns whether a link was made."""
    User = get_user_model()
    user = User.objects.filter(username=username, is_active=True, source=User.Source.LOCAL).exclude(email="").first()
    if user is None:
        return False
    recent = Event.objects.filter(
        event_type="security.password_reset_requested", user=user, created_at__gte=timezone.now() - RESEND_AFTER
    )
    if recent.exists():
        return False
    link = urljoin(
        site_url,
        reverse(
            "password_reset_confirm",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        ),
    )
    with translation.override(language):
        heading = _("Reset your password")
        text = _(
            "Hello %(name)s,\n\nsomeone (hopefully you) asked to reset your password for the license server. "
            "Open this link to choose a new password; it works once:\n\n%(link)s\n\n"
            "If you did not ask for it, ignore this mail: your password stays as it is.\n"
        ) % {"name": user.username, "link": link}
        body = f"{heading}\n\n{text}"
    # The mail is A.5's "Activation of the code for resetting a password" (accounts.notifications),
    # sent once this commits; the link is in the mail only, never in the event log.
    with transaction.atomic():
        events.record(
            "security.password_reset_requested",
            actor=user,
            notify=[user],
            mail=mail.Content(body=body),
            user_name=user.username,
        )
    return True
