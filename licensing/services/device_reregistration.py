"""A REGISTER for a UDI that already has a product instance in the token's local account: may it
re-register, take over or move that instance?

Allowed for a token of the instance's own virtual account, for a REGISTER signed with the
instance's current ID key, or for a token whose creator may transfer the instance
(``accounts.rbac.token_delegates``); anything else is refused with ``REREGISTRATION_REFUSED``,
rolled back, and leaves an event and an alert in the instance's virtual account. The rules in
full: docs/protocol.md, "Re-registration of an existing UDI".
"""

import datetime

from accounts.rbac import Action, token_delegates
from core import pki

from ..models import Alert, DeviceCertificate, DeviceIdentity
from . import alerts
from .device_errors import REREGISTRATION_REFUSED, DeviceError
from .registration_limits import token_name

KEY_PREFIX = "reregistration_refused:"
# One event and alert per product instance and token within this long: a device retrying (or a
# script hammering) does not flood the log.
QUIET_FOR = datetime.timedelta(hours=1)


class ReregistrationRefused(DeviceError):
    """REGISTER of an existing product instance that the message may not touch (HTTP 200, FAILED)."""

    def __init__(self, *, pi, token, force):
        super().__init__(REREGISTRATION_REFUSED)
        self.pi, self.token, self.force = pi, token, force

    def after_rollback(self, now):
        record_refusal(self, now)


def holds_current_key(pi, public_key, now):
    """Whether ``public_key`` is a current ID key of ``pi``: the key of an ID certificate the server
    accepts messages from and that RENEW_ID did not replace, or the key its SLP pushes are pinned to."""
    fingerprint = pki.public_key_fingerprint(public_key)
    current = DeviceCertificate.objects.filter(
        product_instance=pi,
        public_key_sha256=fingerprint,
        revoked_at__isnull=True,
        superseded_at__isnull=True,
        not_after__gt=now,
    )
    return (
        current.exists() or DeviceIdentity.objects.filter(product_instance=pi, pinned_key_sha256=fingerprint).exists()
    )


def authorize(pi, token, message, now):
    """Whether this REGISTER moves the existing ``pi`` (row locked) to ``token``'s virtual account
    (True) or re-registers it where it is (False); ``ReregistrationRefused`` when it may do neither.

    Nothing is read for the common case, a token of the instance's own virtual account.
    """
    va = token.virtual_account
    if pi.virtual_account_id == va.pk:
        return False
    force = message.fields["force"]
    if holds_current_key(pi, message.fields["csr"].public_key(), now) or token_delegates(
        token, Action.TRANSFER, virtual_account=pi.virtual_account, to_virtual_account=va
    ):
        return force
    raise ReregistrationRefused(pi=pi, token=token, force=force)


def record_refusal(error, now):
    """The event and the Major "Re-registration Refused" alert in the product instance's virtual
    account, at most once per ``QUIET_FOR`` per product instance and token.

    The alert names the instance in its text but is not linked to it: the instance may be
    removed (DEREGISTER) between the rollback and this write.
    """
    pi, token = error.pi, error.token
    va = pi.virtual_account
    params = {
        "identifier": pi.display_name,
        "pool_name": va.name,
        "token_name": token_name(token),
        "token_pool_name": token.virtual_account.name,
        "creator": token.created_by_name or "the system",
    }
    return alerts.raise_refusal_alert(
        va.account,
        key=f"{KEY_PREFIX}{pi.pk}:{token.pk}",
        alert_type=Alert.Type.REREGISTRATION_REFUSED,
        virtual_account=va,
        code="device.move_refused" if error.force else "device.reregistration_refused",
        params=params,
        now=now,
        quiet_for=QUIET_FOR,
    )


__all__ = ["authorize", "holds_current_key", "record_refusal", "ReregistrationRefused", "QUIET_FOR"]
