"""One pipeline for every device message, whatever the endpoint (docs/protocol.md).

parse (400) -> fields (MALFORMED) -> key + signature (NOT_REGISTERED, BAD_SIGNATURE) ->
timestamp (TIME_SKEW) -> nonce (REPLAY) -> handler, in one transaction with the nonce.
A new product instance over a registration limit (a REGISTER, or a CSLU push that would add one)
is the one refusal that is not HTTP 200: 429 + Retry-After.
Nothing is written before the nonce is spent; a handler's refusal rolls its writes back and
keeps only the nonce spent.
"""

import datetime
import functools
import json
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import pki
from licensing import metrics

from ..services import device_registration, device_requests, device_slp, device_usage, third_party_keys
from ..services.device_errors import (
    ACCOUNT_INACTIVE,
    BAD_SIGNATURE,
    MALFORMED,
    NOT_REGISTERED,
    REPLAY,
    TIME_SKEW,
    DeviceError,
)
from ..services.device_nonces import spend_nonce
from ..services.device_pki import authority_key, certificate_usable, current_authority, find_certificate
from ..services.registration_limits import RegistrationLimited
from . import envelope, validation

CLOCK_WINDOW = datetime.timedelta(hours=24)  # guide A.3: "within 24-hours ... either ahead or behind"

HANDLERS = {
    "RENEW_ID": device_registration.renew_id,
    "AUTHORIZE": device_usage.authorize,
    "DEREGISTER": device_registration.deregister,
    "REPORT_USAGE": device_usage.report_usage,
    "EXPORT_AUTHORIZE": device_requests.request_export,
    "EXPORT_RETURN": device_requests.request_export,
    "CONVERT": device_requests.request_conversion,
    "POLL": device_requests.poll,
    "GET_THIRD_PARTY_KEY": third_party_keys.get_third_party_keys,
}


@dataclass
class Outcome:
    status: int
    body: str
    content_type: str
    headers: dict = field(default_factory=dict)


class _Replay(Exception):
    pass


@functools.lru_cache(maxsize=20_000)
def _certificate_key(certificate_pem):
    return pki.load_certificate(certificate_pem).public_key()


def _plain(status, code, message):
    return Outcome(status, json.dumps({"status": "FAILED", "error_code": code, "message": message}), "application/json")


def too_large(limit):
    return _plain(413, MALFORMED, f"The message is larger than {limit} bytes.")


def _reply(env, signer, payload, *, message_type, status=200, headers=None):
    if isinstance(env.payload.get("nonce"), str):
        payload = {"in_reply_to": env.payload["nonce"][:128], **payload}
    text = envelope.build_reply(message_type, payload, key=authority_key(signer), key_serial_hex=signer.serial_hex)
    if env.xml:
        return Outcome(status, envelope.wrap_xml(text), "application/xml", headers or {})
    return Outcome(status, text, "application/json", headers or {})


def _message_time(message):
    return datetime.datetime.fromtimestamp(message.timestamp_ms / 1000, tz=datetime.timezone.utc)


def _verify_certificate(cert, env, message, now, cslu_account):
    """Check that ``cert`` (named by ``signature.key``) is usable, signed the payload, and is the sender's."""
    if cert is None or not certificate_usable(cert, now):
        raise DeviceError(NOT_REGISTERED)
    if not pki.verify(_certificate_key(cert.certificate_pem), env.signed_bytes, env.signature):
        raise DeviceError(BAD_SIGNATURE)
    pi = cert.product_instance
    if (pi.udi_pid, pi.udi_serial_number) != (message.sudi["udi_pid"], message.sudi["udi_serial_number"]):
        raise DeviceError(NOT_REGISTERED, "The sudi is not the product instance this certificate was issued to.")
    if cslu_account is not None and pi.account_id != cslu_account.pk:
        raise DeviceError(NOT_REGISTERED, "This certificate does not belong to this local account.")
    if not pi.virtual_account.account.is_active:
        raise DeviceError(ACCOUNT_INACTIVE, "The local account of this product instance is not active.")
    return cert


def _verify_and_handle(env, message, cert, *, transport, cslu_account, now):
    cslu_pi = None
    if env.key == "csr":
        if message.type != "REGISTER" and cslu_account is None:
            raise DeviceError(NOT_REGISTERED)
        if not pki.verify(message.fields["csr"].public_key(), env.signed_bytes, env.signature):
            raise DeviceError(BAD_SIGNATURE)
        if cslu_account is not None:
            cslu_pi = device_slp.check_sender(cslu_account, message)
    else:
        if message.type == "REGISTER":
            raise DeviceError(BAD_SIGNATURE, "REGISTER is signed with the key of its csr (key “csr”).")
        _verify_certificate(cert, env, message, now, cslu_account)
    if abs(now - _message_time(message)) > CLOCK_WINDOW:
        raise DeviceError(TIME_SKEW)
    # -- from here on, writes: the nonce first, in the message's transaction
    try:
        with transaction.atomic():
            try:
                spend_nonce(device_key=message.device_key, nonce=message.nonce, message_time=_message_time(message))
            except IntegrityError:
                raise _Replay from None
            if message.type == "REGISTER":
                return device_registration.register(message, transport=transport, now=now)
            if cert is None:
                return device_slp.push(cslu_account, cslu_pi, message, now=now)
            result = HANDLERS[message.type](cert, message, now=now)
        if len(result) == 3:
            # The handler's second half, after the commit (AUTHORIZE: device_usage.finish_authorize).
            signer, payload, finish = result
            finish()
            return signer, payload
        return result
    except _Replay:
        raise DeviceError(REPLAY) from None
    except DeviceError as error:
        # The handler refused: its writes were rolled back, but the nonce stays spent.
        try:
            with transaction.atomic():
                spend_nonce(device_key=message.device_key, nonce=message.nonce, message_time=_message_time(message))
        except IntegrityError:
            pass
        # The refusal's alert and event (a registration limit, a refused re-registration), outside
        # the rolled-back work.
        error.after_rollback(now)
        raise


def process(body, *, transport, allow_xml=False, cslu_account=None):
    """The HTTP outcome of one device message ``body`` (bytes, already size-checked)."""
    try:
        env = envelope.parse(body, allow_xml=allow_xml)
    except envelope.Unparseable as exc:
        metrics.device_message("UNPARSEABLE", MALFORMED)
        return _plain(400, MALFORMED, str(exc))
    now = timezone.now()
    cert = None
    reply_type = env.type if env.type in validation.TYPES else "MESSAGE"
    status, headers = 200, None
    try:
        if env.key != "csr":
            # first, so that even a malformed message's refusal is signed by the device's own authority
            cert = find_certificate(env.key.lower())  # the contract says lowercase; accept either
        allowed = ("REPORT_USAGE",) if cslu_account is not None else validation.TYPES
        message = validation.check(env, allowed_types=allowed)
        signer, payload = _verify_and_handle(
            env, message, cert, transport=transport, cslu_account=cslu_account, now=now
        )
    except DeviceError as error:
        # A refusal is signed by the authority of the certificate the device named, when there is one.
        signer = cert.authority if cert is not None else current_authority(None, now)
        payload = {"status": "FAILED", "error_code": error.code, "message": error.message}
        if isinstance(error, RegistrationLimited):
            # Over a registration limit: HTTP 429 and Retry-After, which devices honour (docs/protocol.md).
            payload["retry_after"] = error.retry_after
            status, headers = 429, {"Retry-After": str(error.retry_after)}
    # Counted by type and result: the status, or the error code of a refusal (core/metrics.py).
    metrics.device_message(reply_type, payload.get("error_code") or payload.get("status", "?"))
    return _reply(env, signer, payload, message_type=reply_type, status=status, headers=headers)
