"""Smart Licensing Using Policy (SLP) pushes to ``/cslu/v1/pi/{LocalAccountName}-{n}``.

SLP devices carry no registration token: the URL names the local account, and a device that
signs with its own key (``key: "csr"``) is added on its first push, its key pinned; later pushes
for that UDI must be signed with the same key. (A device registered with a token pushes with
its ID certificate instead, see processing.)

Adding a product instance is bounded as REGISTER is: it counts against the hourly registration
limits (its virtual account's, and its token's when the push carries one), and in the
``token`` mode of the Security widget's "Accept CSLU pushes" it needs a registration token
(``id_token``), whose virtual account it joins. Without one it joins the Default virtual
account. Every push's usage is held to the usage bounds (``usage_bounds``).
"""

from core import pki

from ..models import DeviceIdentity, ProductInstance
from . import cslu_access, registration_limits, usage_bounds
from .device_errors import (
    ACCOUNT_INACTIVE,
    BAD_SIGNATURE,
    FROM_TOKEN_REFUSAL,
    TOKEN_REQUIRED,
    TOKEN_UNKNOWN,
    DeviceError,
)
from .device_pki import current_authority
from .device_registration import find_or_create_pi, identity_fields, touch
from .device_usage import store_reports
from .tokens import TokenError, count_use, find_usable_token


def check_sender(account, message):
    """(existing product instance or None) for an SLP push signed with its own key ("csr")."""
    if not account.is_active:
        raise DeviceError(ACCOUNT_INACTIVE, "The local account is not active.")
    pi = (
        ProductInstance.objects.select_related("virtual_account", "device")
        .filter(account=account, udi_pid=message.sudi["udi_pid"], udi_serial_number=message.sudi["udi_serial_number"])
        .first()
    )
    if pi is not None:
        fingerprint = pki.public_key_fingerprint(message.fields["csr"].public_key())
        pinned = pi.device.pinned_key_sha256 if _has_device(pi) else ""
        if not pinned or pinned != fingerprint:
            raise DeviceError(BAD_SIGNATURE, "This product instance reports with another key.")
    return pi


def _has_device(pi):
    try:
        return pi.device is not None  # the reverse one-to-one raises when there is none
    except DeviceIdentity.DoesNotExist:
        return False


def _token(account, message, now):
    """The registration token a push that adds a product instance carries (checked, not yet used),
    or None; refused when it is not usable, not the account's, or missing in ``token`` mode."""
    value = message.fields.get("id_token")
    if value is None:
        if cslu_access.token_required():
            raise DeviceError(TOKEN_REQUIRED)
        return None
    try:
        token = find_usable_token(value, now=now)
    except TokenError as error:
        raise DeviceError(FROM_TOKEN_REFUSAL.get(error.code, TOKEN_UNKNOWN)) from error
    if token.virtual_account.account_id != account.pk:
        raise DeviceError(TOKEN_UNKNOWN, "The registration token is not one of this local account's.")
    return token


def _udi_name(message):
    return f"UDI_PID:{message.sudi['udi_pid']}; UDI_SN:{message.sudi['udi_serial_number']}"


def push(account, pi, message, *, now):
    """Store the push's reports for ``pi`` (added first when new); the reply fields."""
    usage_bounds.check(
        message,
        account=account,
        virtual_account=pi.virtual_account if pi else None,
        identifier=pi.display_name if pi else _udi_name(message),
    )
    token = va = None
    created = False
    if pi is None:
        token = _token(account, message, now)
        va = token.virtual_account if token is not None else account.virtual_accounts.get(is_default=True)
        pi, created = find_or_create_pi(
            account,
            va,
            message,
            now,
            before_create=lambda: registration_limits.precheck(token, now, virtual_account=va),
        )
        fingerprint = pki.public_key_fingerprint(message.fields["csr"].public_key())
        if created:
            DeviceIdentity.objects.create(
                product_instance=pi,
                pinned_key_sha256=fingerprint,
                registration_token=token,
                export_controlled=token is not None and token.export_controlled,
                created_with_token=token,
                created_in_virtual_account=va,
                created_at=now,
                **identity_fields(message, DeviceIdentity.Transport.CSLU, now),
            )
        elif DeviceIdentity.objects.filter(pk=pi.pk).values_list("pinned_key_sha256", flat=True).first() != fingerprint:
            # Another first push of the same UDI won the race with another key: this one is refused.
            raise DeviceError(BAD_SIGNATURE, "This product instance reports with another key.")
    touch(pi, now)
    acks = store_reports(pi, message, now=now)
    if created:
        # Last, as REGISTER does: the virtual account's and the token's rows are locked to the commit.
        registration_limits.check(token, now, virtual_account=va)
        if token is not None:
            try:
                count_use(token, now)
            except TokenError as error:
                raise DeviceError(FROM_TOKEN_REFUSAL.get(error.code, TOKEN_UNKNOWN)) from error
    return current_authority(account, now), {"status": "SUCCESS", "acks": acks}


__all__ = ["check_sender", "push"]
