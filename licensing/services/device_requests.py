"""Device requests that wait for a synchronization with CSSM: export-control authorization and
return (``DeviceRequest``), Device Led Conversion (``Conversion``, owned by
``licensing.services.conversion``); and POLL, by which the device learns the outcome.

The device is answered ``OK_POLL`` with a ``poll_id`` and polls once an hour. The
synchronization reads ``pending_requests(account)`` into its request file and, when CSSM's
answer comes back, calls ``decide_request`` — which applies a granted export authorization
or return to the product instance's usage, records the guide's events, clears the account's
"Synchronization Required" alert with the last pending request, and lets the next POLL answer
``COMPLETE``. Conversions are decided by ``conversion.decide_conversion``.
"""

import secrets

from django.db import transaction
from django.utils import timezone, translation

from core import events
from core.errors import ServiceError

from ..models import Conversion, DeviceRequest, LicenseDefinition
from . import alerts as alert_service
from . import conversion as conversion_service
from .compliance import virtual_account_positions
from .device_errors import EXPORT_NOT_ALLOWED, MALFORMED, DeviceError
from .device_registration import touch
from .device_usage import _current_usage, apply_usage

POLL_INTERVAL = 3600  # seconds: the guide's "poll it for status, once per hour"
KIND_BY_TYPE = {
    "EXPORT_AUTHORIZE": DeviceRequest.Kind.EXPORT_AUTHORIZE,
    "EXPORT_RETURN": DeviceRequest.Kind.EXPORT_RETURN,
}
TYPE_BY_KIND: dict[str, str] = {
    kind: message_type for message_type, kind in KIND_BY_TYPE.items()
}  # by DeviceRequest.kind
RESULTS: dict[str, tuple[str, str]] = {  # by DeviceRequest.kind: (granted, denied)
    DeviceRequest.Kind.EXPORT_AUTHORIZE: ("authorization-granted", "authorization-denied"),
    DeviceRequest.Kind.EXPORT_RETURN: ("return-granted", "return-denied"),
}
CONVERSION_RESULTS = {
    Conversion.Status.SUCCESS: "migrate-success",
    Conversion.Status.FAILED: "migrate-failed",
    Conversion.Status.ALREADY_CONVERTED: "migrate-failed",
}


def _poll_reply(request):
    return {"status": "OK_POLL", "poll_id": request.poll_id, "poll_interval": POLL_INTERVAL}


def _restricted_licenses(entitlements):
    tags = [e["tag"] for e in entitlements]
    licenses = {lic.entitlement_tag: lic for lic in LicenseDefinition.objects.filter(entitlement_tag__in=tags)}
    for tag in tags:
        lic = licenses.get(tag)
        if lic is None or not lic.export_restricted:
            raise DeviceError(EXPORT_NOT_ALLOWED, f"“{tag}” is not an export-restricted license.")
    return licenses


def _licenses_text(entitlements):
    return ", ".join(f"{e['count']} “{e['tag']}”" for e in entitlements)


def request_export(cert, message, *, now):
    """EXPORT_AUTHORIZE / EXPORT_RETURN: keep the request pending; the device polls."""
    pi = cert.product_instance
    va = pi.virtual_account
    entitlements = message.fields["entitlements"]
    licenses = _restricted_licenses(entitlements)
    kind = KIND_BY_TYPE[message.type]
    if kind == DeviceRequest.Kind.EXPORT_RETURN:
        current = _current_usage(pi)
        for e in entitlements:
            lic = licenses[e["tag"]]
            if e["count"] > (current[lic.pk].count if lic.pk in current else 0):
                raise DeviceError(EXPORT_NOT_ALLOWED, f"“{e['tag']}”: more is returned than was authorized.")
    touch(pi, now)
    request = DeviceRequest.objects.create(
        account_id=pi.account_id,
        product_instance=pi,
        kind=kind,
        poll_id=secrets.token_hex(16),
        items=entitlements,
        created_at=now,
    )
    code = "device.export_pending" if kind == DeviceRequest.Kind.EXPORT_AUTHORIZE else "device.export_return_pending"
    events.record(code, virtual_account=va, device_name=pi.display_name, pool_name=va.name)
    alert_service.raise_sync_required(va.account, alert_service.SYNC_EXPORT, now=now)
    if kind == DeviceRequest.Kind.EXPORT_AUTHORIZE:
        positions = {p.license_id: p for p in virtual_account_positions(va, as_of=now.date())}
        short = [
            e
            for e in entitlements
            if (positions[licenses[e["tag"]].pk].available if licenses[e["tag"]].pk in positions else 0) < e["count"]
        ]
        if short:
            events.record(
                "device.export_not_available",
                virtual_account=va,
                display_name=pi.display_name,
                pool_name=va.name,
                licenses=_licenses_text(short),
            )
    return cert.authority, _poll_reply(request)


def _conversion_reply(conversion):
    if conversion.status == Conversion.Status.PENDING:
        return {"status": "OK_POLL", "poll_id": conversion.poll_id, "poll_interval": POLL_INTERVAL}
    return {
        "status": "COMPLETE",
        "poll_id": conversion.poll_id,
        "request_type": "CONVERT",
        "result": CONVERSION_RESULTS[conversion.status],
        "message": conversion.reason or _english(conversion.get_status_display()),
        "detail": {"licenses": conversion.licenses},
    }


def request_conversion(cert, message, *, now):
    """CONVERT (Device Led Conversion): pending until the synchronization brings CSSM's result.

    Refused at once (COMPLETE, ``migrate-failed``, the reason in ``message``) when DLC is not
    enabled on the instance's local virtual account; a retry while pending gets the same poll_id.
    """
    pi = cert.product_instance
    touch(pi, now)
    try:
        conversion = conversion_service.request_conversion(
            pi, message.fields["licenses"], product_family=pi.product_name, poll_id=secrets.token_hex(16), now=now
        )
    except ServiceError as error:
        return cert.authority, {
            "status": "COMPLETE",
            "poll_id": None,
            "request_type": "CONVERT",
            "result": "migrate-failed",
            "message": error.message,
            "detail": {},
        }
    return cert.authority, _conversion_reply(conversion)


def poll(cert, message, *, now):
    """POLL: OK_POLL while pending, then COMPLETE with the outcome."""
    pi = cert.product_instance
    request = DeviceRequest.objects.filter(poll_id=message.fields["poll_id"], product_instance=pi).first()
    if request is None:
        conversion = conversion_service.conversion_for_poll(pi.virtual_account.account, message.fields["poll_id"])
        if conversion is None or conversion.product_instance_id != pi.pk:
            raise DeviceError(MALFORMED, "Unknown poll_id for this product instance.")
        touch(pi, now)
        return cert.authority, _conversion_reply(conversion)
    touch(pi, now)
    if request.status == DeviceRequest.Status.PENDING:
        return cert.authority, _poll_reply(request)
    return cert.authority, {
        "status": "COMPLETE",
        "poll_id": request.poll_id,
        "request_type": TYPE_BY_KIND[request.kind],
        "result": request.result,
        "message": request.message,
        "detail": request.detail,
    }


def pending_requests(account):
    """What the next synchronization request must carry for ``account``."""
    return DeviceRequest.objects.filter(account=account, status=DeviceRequest.Status.PENDING).select_related(
        "product_instance"
    )


@transaction.atomic
def decide_request(request, *, result, message="", detail=None, now=None):
    """Apply CSSM's decision on a pending request (called by the synchronization).

    ``result`` is one of ``RESULTS[request.kind]``; the first of each is the success.
    """
    now = now or timezone.now()
    # Only the request's own row is locked: the joined account rows are read (locking them would
    # block concurrent registrations' foreign-key checks; docs/licensing-engine.md, "Locking").
    request = (
        DeviceRequest.objects.select_for_update(of=("self",), no_key=True)
        .select_related("product_instance__virtual_account__account")
        .get(pk=request.pk)
    )
    if request.status != DeviceRequest.Status.PENDING:
        raise ServiceError("This device request has already been decided.")
    if result not in RESULTS[request.kind]:
        raise ServiceError(f"“{result}” is not a result of a {request.get_kind_display()} request.")
    pi = request.product_instance
    va = pi.virtual_account
    granted = result == RESULTS[request.kind][0]
    if granted:
        sign = 1 if request.kind == DeviceRequest.Kind.EXPORT_AUTHORIZE else -1
        licenses = dict(
            LicenseDefinition.objects.filter(entitlement_tag__in=[item["tag"] for item in request.items]).values_list(
                "entitlement_tag", "pk"
            )
        )
        current = _current_usage(pi)
        desired: dict[int, int] = {}  # {license id: count}
        for item in request.items:
            lid = licenses.get(item["tag"])
            if lid is not None:
                base = desired.get(lid, current[lid].count if lid in current else 0)
                desired[lid] = max(0, base + sign * item["count"])
        apply_usage(pi, current, desired, now)
        if sign > 0:
            events.record(
                "device.export_keys_consumed", virtual_account=va, display_name=pi.display_name, pool_name=va.name
            )
        else:
            events.record(
                "device.export_keys_returned",
                virtual_account=va,
                pi_display_name=pi.display_name,
                pool_name=va.name,
                licenses=_licenses_text(request.items),
            )
    request.status, request.result, request.decided_at = DeviceRequest.Status.COMPLETE, result, now
    request.message, request.detail = message, detail or {}
    request.save(update_fields=["status", "result", "decided_at", "message", "detail"])
    if not DeviceRequest.objects.filter(account_id=request.account_id, status=DeviceRequest.Status.PENDING).exists():
        alert_service.clear_sync_required(va.account, alert_service.SYNC_EXPORT, now=now)
    return request


__all__ = [
    "request_export",
    "request_conversion",
    "poll",
    "pending_requests",
    "decide_request",
    "POLL_INTERVAL",
    "RESULTS",
    "CONVERSION_RESULTS",
]


def _english(label):
    """A choice label as the device protocol carries it: English, whatever the server's language."""
    with translation.override("en"):
        return str(label)
