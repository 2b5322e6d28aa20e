"""Smart Licensing Using Policy (SLP) pushes to ``/cslu/v1/pi/{LocalAccountName}-{n}``.

SLP devices carry no registration token: the URL names the local account, and a device that
signs with its own key (``key: "csr"``) is added to the account's Default virtual account on
its first push, its key pinned; later pushes for that UDI must be signed with the same key.
(A device registered with a token pushes with its ID certificate instead, see processing.)
"""
from onprem import pki

from ..models import DeviceIdentity, ProductInstance
from .device_errors import ACCOUNT_INACTIVE, BAD_SIGNATURE, DeviceError
from .device_pki import current_authority
from .device_registration import find_or_create_pi, identity_fields, touch
from .device_usage import store_reports


def check_sender(account, message):
    """(existing product instance or None) for an SLP push signed with its own key ("csr")."""
    if not account.is_active:
        raise DeviceError(ACCOUNT_INACTIVE, "The local account is not active.")
    pi = (ProductInstance.objects.select_related("virtual_account", "device")
          .filter(account=account, udi_pid=message.sudi["udi_pid"],
                  udi_serial_number=message.sudi["udi_serial_number"]).first())
    if pi is not None:
        fingerprint = pki.public_key_fingerprint(message.fields["csr"].public_key())
        pinned = pi.device.pinned_key_sha256 if _has_device(pi) else ""
        if not pinned or pinned != fingerprint:
            raise DeviceError(BAD_SIGNATURE, "This product instance reports with another key.")
    return pi


def _has_device(pi):
    try:
        pi.device
    except DeviceIdentity.DoesNotExist:
        return False
    return True


def push(account, pi, message, *, now):
    """Store the push's reports for ``pi`` (added to the Default virtual account when new); the reply fields."""
    if pi is None:
        va = account.virtual_accounts.get(is_default=True)
        pi, created = find_or_create_pi(account, va, message, now)
        fingerprint = pki.public_key_fingerprint(message.fields["csr"].public_key())
        if created:
            DeviceIdentity.objects.create(product_instance=pi, pinned_key_sha256=fingerprint,
                                          **identity_fields(message, "cslu", now))
        elif DeviceIdentity.objects.filter(pk=pi.pk).values_list("pinned_key_sha256", flat=True).first() != \
                fingerprint:
            # Another first push of the same UDI won the race with another key: this one is refused.
            raise DeviceError(BAD_SIGNATURE, "This product instance reports with another key.")
    touch(pi, now)
    acks = store_reports(pi, message, now=now)
    return current_authority(account, now), {"status": "SUCCESS", "acks": acks}


__all__ = ["check_sender", "push"]
