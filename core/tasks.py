"""Periodic housekeeping tasks of the core."""

import socket

from celery import shared_task
from django.utils import timezone


@shared_task(name="onprem.heartbeat")
def heartbeat():
    """Record that a worker is alive; the system-health readout shows the last beat."""
    from core.models import WorkerHeartbeat

    WorkerHeartbeat.objects.update_or_create(hostname=socket.gethostname(), defaults={"last_seen": timezone.now()})


@shared_task(name="onprem.send_mail", autoretry_for=(OSError,), retry_backoff=60, retry_backoff_max=3600, max_retries=8)
def send_mail(subject, body, recipients, attachments=()):
    """Send one notification mail; a mail server that is down is retried with backoff."""
    from core.mail import send

    return send(subject, body, recipients, attachments)
