"""Periodic housekeeping tasks of the core."""
import socket

from celery import shared_task
from django.utils import timezone


@shared_task(name="onprem.heartbeat")
def heartbeat():
    """Record that a worker is alive; the system-health readout shows the last beat."""
    from onprem.models import WorkerHeartbeat

    WorkerHeartbeat.objects.update_or_create(
        hostname=socket.gethostname(), defaults={"last_seen": timezone.now()}
    )
