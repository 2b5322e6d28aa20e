"""Nonces of device messages: each one passes once per device within the timestamp window."""

import datetime

from django.utils import timezone

from ..models import DeviceNonce
from .prepared import insert_row

# A message is accepted up to 24 hours after its timestamp; keep its nonce a little longer.
KEEP_FOR = datetime.timedelta(hours=25)


def spend_nonce(*, device_key, nonce, message_time):
    """Record ``nonce`` for the device; raises IntegrityError when it was already spent.

    A plain INSERT under a unique constraint: of two copies of a message racing each other,
    the database lets exactly one in (the second waits for the first's commit, then fails).
    """
    insert_row(DeviceNonce, device_key=device_key, nonce=nonce, expires_at=message_time + KEEP_FOR)


def purge_expired_nonces(now=None):
    """Delete nonces whose messages are outside the timestamp window anyway; returns the count."""
    deleted, _ = DeviceNonce.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted


__all__ = ["spend_nonce", "purge_expired_nonces", "KEEP_FOR"]
