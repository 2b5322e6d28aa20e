"""Email (Settings widget, Email tab): the SMTP backend and the guide's notification mails.

``SettingsEmailBackend`` is the project's EMAIL_BACKEND: it connects with what the Email tab
saved (server, port, HELO domain, optional STARTTLS and authentication) and, while nothing is
saved there, with Django's EMAIL_* settings. Mail goes out from a Celery task, so a slow or
absent mail server never holds up the request that caused it.
"""

import logging
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend

from . import crypto

logger = logging.getLogger(__name__)


class SettingsEmailBackend(EmailBackend):
    def __init__(self, **kwargs):
        from .system_settings import current

        config = current()
        self.helo = ""
        if config.smtp_host:
            kwargs.setdefault("host", config.smtp_host)
            kwargs.setdefault("port", config.smtp_port)
            kwargs.setdefault("use_tls", config.smtp_starttls)
            if config.smtp_auth_required and config.smtp_password:
                kwargs.setdefault("username", config.smtp_username)
                kwargs.setdefault("password", crypto.decrypt(config.smtp_password))
            self.helo = config.smtp_helo_domain
        kwargs.setdefault("timeout", getattr(settings, "EMAIL_TIMEOUT", None) or 30)
        super().__init__(**kwargs)

    @property
    def connection_class(self):
        # Django always passes its own FQDN as local_hostname; the Email tab's HELO Domain wins.
        base = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
        helo = self.helo

        def connect(host, port, **params):
            if helo:
                params["local_hostname"] = helo
            return base(host, port, **params)

        return connect


def from_address():
    from .system_settings import current

    return current().smtp_from or settings.DEFAULT_FROM_EMAIL


@dataclass(frozen=True)
class Content:
    """What an event's notification mail says when it is more than the event's message
    (``core.events.record(..., mail=Content(...))``): a body of its own (a reset link must not be
    in the event log), words after the subject, files (``(name, text, mimetype)``)."""

    body: str = ""
    subject_detail: str = ""
    attachments: tuple[tuple[str, str, str], ...] = ()


def send(subject, body, recipients, attachments=()):
    """Send one plain-text mail now (callers on a request path use ``send_later``).

    ``attachments`` are ``(filename, text, mimetype)`` triples (lists once through the task queue).
    """
    recipients = sorted({address for address in recipients if address})
    if not recipients:
        return 0
    message = EmailMessage(subject=subject, body=body, from_email=from_address(), to=recipients)
    for filename, content, mimetype in attachments or ():
        message.attach(filename, content, mimetype)
    return message.send()


def send_later(subject, body, recipients, attachments=()):
    """Queue a mail for the Celery worker (retried there if the server does not answer).

    When the broker cannot take the task (Redis down: ``delay`` raises after kombu's publish
    retries), the mail is sent now instead of being dropped; only if the mail server fails too
    is it lost, and then the log says so (tests/faults/test_redis_down.py).
    """
    from kombu.exceptions import OperationalError

    from .tasks import send_mail

    recipients = sorted({address for address in recipients if address})
    if not recipients:
        return
    attachments = [list(attachment) for attachment in attachments or ()]
    try:
        send_mail.delay(subject, body, recipients, attachments)
    except (OperationalError, OSError) as error:
        logger.warning("The task broker is unavailable (%s); sending the mail “%s” now.", type(error).__name__, subject)
        try:
            send(subject, body, recipients, attachments)
        except (OSError, smtplib.SMTPException) as mail_error:
            logger.error(
                "The mail “%s” to %d recipient(s) was not sent: the task broker and the mail server "
                "are both unavailable (%s).",
                subject,
                len(recipients),
                type(mail_error).__name__,
            )
