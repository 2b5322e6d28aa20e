"""Convert to Smart Licensing: Device Led Conversion (DLC) settings, requests and decisions.

The device protocol calls ``request_conversion`` (CONVERT) and ``conversion_for_poll`` (POLL);
the synchronization calls ``pending_conversions`` / ``mark_sent`` and ``decide_conversion``.
What each answers, records and raises: docs/licensing-preferences-conversion-tags.md,
"Interface for the device protocol and the sync engine".
"""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import Conversion, ConversionSettings, LocalAccount
from . import alerts as alert_service

MAX_LICENSES = 50
NAME_MAX = 255
DONE = (Conversion.Status.SUCCESS, Conversion.Status.ALREADY_CONVERTED)


# --- Conversion Settings ----------------------------------------------------------------------------


def settings_of(account):
    """The account's DLC settings (unsaved defaults — nothing enabled — until first applied)."""
    return ConversionSettings.objects.filter(account=account).first() or ConversionSettings(account=account)


def enabled_virtual_account_ids(settings):
    if settings.pk is None:
        return set()
    return set(settings.enabled_virtual_accounts.values_list("pk", flat=True))


def conversion_allowed(virtual_account):
    settings = settings_of(virtual_account.account)
    if settings.mode == ConversionSettings.Mode.ALL:
        return True
    return settings.pk is not None and settings.enabled_virtual_accounts.filter(pk=virtual_account.pk).exists()


@transaction.atomic
def set_conversion_settings(*, actor, account, mode, virtual_accounts=()):
    """ "Conversion Settings" > Apply: DLC on all local virtual accounts, or only on the selected ones."""
    if actor is not None and not can(actor, Action.MANAGE_DLC_SETTINGS, account=account):
        raise NotAllowed("Only an Account Administrator can change the Device Led Conversion settings.")
    if mode not in ConversionSettings.Mode.values:
        raise ServiceError("Choose all local Virtual Accounts or selected local Virtual Accounts.", field="mode")
    vas = list(virtual_accounts)
    if any(va.account_id != account.pk for va in vas):
        raise ServiceError(
            "A local Virtual Account of another local account cannot be selected.", field="virtual_accounts"
        )
    LocalAccount.objects.select_for_update(no_key=True).filter(pk=account.pk).first()
    settings, _ = ConversionSettings.objects.get_or_create(account=account)
    settings.mode = mode
    settings.save(update_fields=["mode", "updated_at"])
    settings.enabled_virtual_accounts.set(vas if mode == ConversionSettings.Mode.SELECTED else [])
    if mode == ConversionSettings.Mode.ALL:
        summary = "enabled for all local Virtual Accounts"
    elif vas:
        summary = "enabled only on " + ", ".join(f"“{va.name}”" for va in sorted(vas, key=lambda v: v.name))
    else:
        summary = "enabled on no local Virtual Account"
    events.record(
        "conversion.settings_changed",
        actor=actor,
        account=account,
        user_name=getattr(actor, "username", "") or "system",
        summary=summary,
    )
    return settings


# --- Requests from devices and decisions from CSSM --------------------------------------------------


def device_identifier(pi):
    return f"PID:{pi.udi_pid} SN:{pi.udi_serial_number}"


def _check_licenses(licenses):
    """The CONVERT message's licenses as clean dicts, or a ServiceError; nothing is written before this."""
    if not isinstance(licenses, (list, tuple)) or not licenses:
        raise ServiceError("A conversion request names at least one license.", field="licenses")
    if len(licenses) > MAX_LICENSES:
        raise ServiceError(f"A conversion request names at most {MAX_LICENSES} licenses.", field="licenses")
    clean = []
    for item in licenses:
        if not isinstance(item, dict):
            raise ServiceError("Each license to convert is an object {name, count}.", field="licenses")
        name, count = item.get("name"), item.get("count")
        if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
            raise ServiceError("Each license to convert has a name (at most 255 characters).", field="licenses")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ServiceError(f"The count of “{name}” must be a whole number of at least 1.", field="licenses")
        extra = {key: str(item.get(key) or "")[:NAME_MAX] for key in ("tag", "pak")}
        clean.append({"name": name.strip(), "count": count, **extra})
    return clean


def request_conversion(product_instance, licenses, *, product_family="", poll_id="", now=None):
    """A registered product instance asks to convert its traditional licenses (see the module doc)."""
    clean = _check_licenses(licenses)
    pi = product_instance
    va = pi.virtual_account
    now = now or timezone.now()
    if not conversion_allowed(va):
        raise ServiceError(
            f"Device Led Conversion is not enabled for the local Virtual Account “{va.name}”.", field="virtual_account"
        )
    identifier = device_identifier(pi)
    names = {item["name"] for item in clean}
    with transaction.atomic():
        # One request at a time per account: a device retrying must not queue a second one.
        LocalAccount.objects.select_for_update(no_key=True).filter(pk=pi.account_id).first()
        mine = Conversion.objects.filter(account_id=pi.account_id, device_identifier=identifier)
        pending = mine.filter(status=Conversion.Status.PENDING).first()
        if pending is not None:
            return pending
        converted: set[str] = set()  # the license names already converted
        for row in mine.filter(status__in=DONE).only("licenses"):
            converted.update(item.get("name") for item in row.licenses)
        common = {
            "account_id": pi.account_id,
            "virtual_account": va,
            "product_instance": pi,
            "product_instance_name": pi.display_name,
            "device_identifier": identifier,
            "product_family": (product_family or pi.product_name or pi.udi_pid)[:255],
            "licenses": clean,
            "poll_id": poll_id[:64],
            "requested_at": now,
        }
        if names <= converted:
            # "DLC can only convert Traditional Licensing once if successful."
            return Conversion.objects.create(
                **common, status=Conversion.Status.ALREADY_CONVERTED, reason="License Already Converted", decided_at=now
            )
        conversion = Conversion.objects.create(**common)
        events.record(
            "conversion.requested",
            virtual_account=va,
            identifier=pi.display_name,
            pool_name=va.name,
            licenses=", ".join(f"{item['count']} “{item['name']}”" for item in clean),
        )
        alert_service.raise_sync_required(va.account, alert_service.SYNC_DLC, now=now)
    return conversion


def pending_conversions(account):
    return Conversion.objects.filter(account=account, status=Conversion.Status.PENDING).order_by("requested_at", "pk")


def mark_sent(conversions, now=None):
    """The synchronization handed these pending conversions to CSSM."""
    ids = [c.pk for c in conversions]
    return Conversion.objects.filter(pk__in=ids, status=Conversion.Status.PENDING).update(sent_at=now or timezone.now())


def decide_conversion(conversion, success, *, reason="", already_converted=False, now=None):
    """Record CSSM's answer for a pending conversion (see the module doc); returns the conversion."""
    now = now or timezone.now()
    with transaction.atomic():
        conversion = (
            Conversion.objects.select_for_update().select_related("virtual_account__account").get(pk=conversion.pk)
        )
        if conversion.status != Conversion.Status.PENDING:
            raise ServiceError("This conversion was already decided.")
        if already_converted:
            conversion.status, reason = Conversion.Status.ALREADY_CONVERTED, reason or "License Already Converted"
        else:
            conversion.status = Conversion.Status.SUCCESS if success else Conversion.Status.FAILED
        conversion.reason, conversion.decided_at = (reason or "")[:2000], now
        conversion.save(update_fields=["status", "reason", "decided_at"])
        va = conversion.virtual_account
        if conversion.status == Conversion.Status.FAILED:
            events.record("device.dlc_failed", virtual_account=va, product=conversion.product_instance_name)
        else:
            events.record("device.dlc_complete", virtual_account=va)
        if not pending_conversions(va.account).exists():
            alert_service.clear_sync_required(va.account, alert_service.SYNC_DLC, now=now)
    return conversion


def conversion_for_poll(account, poll_id):
    if not poll_id:
        return None
    return Conversion.objects.filter(account=account, poll_id=poll_id).first()


# --- Conversion History -------------------------------------------------------------------------------


def history(account, virtual_accounts, *, device="", family=""):
    """The Conversion History of the visible local virtual accounts, filtered "by Device Identifier or
    Product Family" (case-insensitive contains)."""
    rows = Conversion.objects.filter(account=account, virtual_account__in=virtual_accounts).select_related(
        "virtual_account"
    )
    if device:
        rows = rows.filter(Q(device_identifier__icontains=device) | Q(product_instance_name__icontains=device))
    if family:
        rows = rows.filter(product_family__icontains=family)
    return rows


__all__ = [
    "settings_of",
    "enabled_virtual_account_ids",
    "conversion_allowed",
    "set_conversion_settings",
    "request_conversion",
    "pending_conversions",
    "mark_sent",
    "decide_conversion",
    "conversion_for_poll",
    "history",
    "device_identifier",
]
