"""Alerts: opened from what the data says, auto-cleared when the cause is gone.

``recompute_alerts(account, as_of)`` works out the causes that exist now and brings the
account's alerts in line, under a lock on the account row. A cause has a ``key`` and an alert
live for that key is kept, so running it twice opens nothing new. Alerts whose cause is not in
the licensing data (``HOOK_KEYS``, ``HOOK_PREFIXES``) are left to the hooks below, which the
device protocol and the synchronization call. Each type's cause, severity and actions:
docs/licensing-engine.md, "Alerts", and docs/licensing-preferences-conversion-tags.md, "Alert types".
"""

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.rbac import Action, can, principal_for, visible_virtual_accounts
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import Alert, Conversion, Entitlement, LicenseReservation, LocalAccount, ProductInstance
from ..models.licenses import valid_on_q
from .compliance import license_positions
from .product_instances import FAILED_TO_CONNECT, FAILED_TO_RENEW, renewal_state

EXPIRY_WARNING_DAYS = (90, 60, 30, 14, 7, 3, 2, 1, 0)  # the guide's "90, 60, 30, 14, 7, 3, 2, 1" and today
CONNECT_STAGES = (30, 60, 90)

DISMISSIBLE = {
    Alert.Type.PI_FAILED_TO_RENEW,
    Alert.Type.LICENSES_EXPIRED,
    Alert.Type.REGISTRATION_LIMITED,
    Alert.Type.REREGISTRATION_REFUSED,
    Alert.Type.VERSION_NOTE,
    # "Click the update the reservation link ... or the dismiss link to remove the alert"; "Click
    # Dismiss to remove the alert".
    Alert.Type.RESERVED_EXPIRED,
    Alert.Type.RESERVED_RETURNED,
}
EXPIRED_ALERT_DAYS = 30  # how long a Licenses Expired alert stays after the lines ended (our decision)
SYNC_DLC, SYNC_EXPORT = "dlc", "export"
SYNC_REQUIRED_EVENTS = {SYNC_DLC: "device.sync_required_dlc", SYNC_EXPORT: "device.sync_required_export"}
SYNC_OVERDUE_KEY = "sync_overdue"
# Alerts whose cause is not in this app's data: opened and cleared by their hooks only.
HOOK_KEYS = {SYNC_OVERDUE_KEY}
# Keys of the device refusals' alerts (``raise_refusal_alert``): Registration Limit Reached
# (licensing.services.registration_limits) and Re-registration Refused
# (licensing.services.device_reregistration).
# "cssm:": what CSSM or the synchronization calendar says (licensing.services.cssm_alerts).
# "reservation_returned:": CSSM returned a product instance's reserved licenses
# (licensing.services.reservations.return_to_smart_account, from the synchronization).
HOOK_PREFIXES = ("registration_limited:", "reregistration_refused:", "cssm:", "reservation_returned:")
REMINDABLE = {Alert.Type.LICENSES_EXPIRING, Alert.Type.PI_FAILED_TO_CONNECT}
# The guide's Alert Actions table, besides Dismiss and Remind Later (the sets above): Transfer
# Licenses into the short pool (Insufficient Licenses) or out of it (Duplicate Licenses: "Transfer
# the entitlement to another Virtual Account"), Remove Instance (Failed to Connect / Renew).
TRANSFER_LICENSES, REMOVE_INSTANCE, DISMISS, REMIND_LATER, UPDATE_RESERVATION = (
    "transfer_licenses",
    "remove_instance",
    "dismiss",
    "remind_later",
    "update_reservation",
)
TRANSFER_IN, TRANSFER_OUT = "in", "out"
TRANSFERS = {Alert.Type.INSUFFICIENT_LICENSES: TRANSFER_IN, Alert.Type.DUPLICATE_LICENSES: TRANSFER_OUT}
REMOVABLE = {Alert.Type.PI_FAILED_TO_CONNECT, Alert.Type.PI_FAILED_TO_RENEW}


@dataclass
class _Cause:
    key: str
    alert_type: str
    severity: str
    message: str
    virtual_account_id: int | None = None
    license_id: int | None = None
    product_instance_id: int | None = None
    stage: int = 0
    action_due: datetime.datetime | None = None
    event_code: str = ""
    event_params: dict | None = None


# The entitlement lines of one pool, license, type, subscription and end date.
_GroupKey = tuple[int, int, str, str, datetime.date | None]


@dataclass
class _Group:
    """Lines of one _GroupKey: the first line (for the names in the message) and their total quantity."""

    line: Entitlement
    count: int


def days_until(due, now):
    """The one day count of the alerts: UTC calendar days from ``now``'s date to ``due``'s.

    The messages ("in 14 days", "within the next 14 days"), the Alerts tab's Action Due, its CSV
    and the API's ``actionDue`` all count with this, so a line ending on the 15th, seen on the 1st
    at any hour, is "14 days" everywhere (a time difference's whole days would say 13 after 00:00).
    """
    if isinstance(due, datetime.datetime):
        due = due.astimezone(datetime.timezone.utc).date()
    if isinstance(now, datetime.datetime):
        now = now.astimezone(datetime.timezone.utc).date()
    return (due - now).days


def action_due_text(action_due, now):
    """The Action Due column: "Now" when due (None, or today or before), else "1 day" / "N days"."""
    days = None if action_due is None else days_until(action_due, now)
    if days is None or days <= 0:
        return "Now"
    return "1 day" if days == 1 else f"{days} days"


def _start_of(day):
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.timezone.utc)


def expiry_stage(days_left):
    """The warning period a line ending in ``days_left`` days is in (None beyond 90 days)."""
    stages = [d for d in EXPIRY_WARNING_DAYS if d >= days_left]
    return min(stages) if stages and days_left >= 0 else None


def _shortages(account, as_of):
    for p in license_positions(account, as_of=as_of):
        if p.shortage > 0:
            code = "license.insufficient_one" if p.shortage == 1 else "license.insufficient"
            params = {"pool_name": p.virtual_account, "tag": p.license, "count": p.shortage}
            yield _Cause(
                key=f"insufficient:{p.virtual_account_id}:{p.license_id}",
                alert_type=Alert.Type.INSUFFICIENT_LICENSES,
                severity=Alert.Severity.MAJOR,
                message=events.render(code, **params),
                virtual_account_id=p.virtual_account_id,
                license_id=p.license_id,
                event_code=code,
                event_params=params,
            )


def _expiring(account, as_of):
    groups: dict[_GroupKey, _Group] = {}
    lines = (
        Entitlement.objects.filter(
            valid_on_q(as_of),
            virtual_account__account=account,
            end_date__lte=as_of + datetime.timedelta(days=EXPIRY_WARNING_DAYS[0]),
        )
        .select_related("license", "virtual_account")
        .order_by("pk")
    )
    for line in lines:
        key = (line.virtual_account_id, line.license_id, line.license_type, line.subscription_id, line.end_date)
        if key in groups:
            groups[key].count += line.quantity
        else:
            groups[key] = _Group(line, line.quantity)
    for (va_id, license_id, license_type, sub, end_date), group in groups.items():
        line, count = group.line, group.count
        assert end_date is not None  # the query keeps lines with an end date only
        days_left = days_until(end_date, as_of)
        stage = expiry_stage(days_left)
        suffix = "today" if days_left == 0 else "1day" if days_left == 1 else "days"
        code = f"license.expiring{'_subscription' if sub else ''}{'_one' if count == 1 else ''}_{suffix}"
        params = {
            "count": count,
            "tag": line.license.name,
            "type": line.license_type,
            "pool_name": line.virtual_account.name,
            "days": days_left,
            "end_date": end_date.isoformat(),
        }
        if sub:
            params["sub_ref_id"] = sub
        yield _Cause(
            key=f"expiring:{va_id}:{license_id}:{license_type}:{sub}:{end_date.isoformat()}:{stage}",
            alert_type=Alert.Type.LICENSES_EXPIRING,
            severity=Alert.Severity.MINOR,
            message=events.render(code, **params),
            virtual_account_id=va_id,
            license_id=license_id,
            stage=stage,
            action_due=_start_of(end_date),
            event_code=code,
            event_params=params,
        )


def _renewals(account, now):
    for pi in ProductInstance.objects.filter(account=account).select_related("virtual_account"):
        state = renewal_state(pi, now)
        if state.state not in (FAILED_TO_CONNECT, FAILED_TO_RENEW):
            continue
        days_left = days_until(state.deadline, now)
        params = {"identifier": pi.display_name, "pool_name": pi.virtual_account.name, "count": days_left}
        if state.state == FAILED_TO_RENEW:
            code, alert_type, severity, due = (
                "pi.failed_to_renew",
                Alert.Type.PI_FAILED_TO_RENEW,
                Alert.Severity.MAJOR,
                None,
            )
        else:
            code = {0: "pi.failed_to_connect_today", 1: "pi.failed_to_connect_one"}.get(
                days_left, "pi.failed_to_connect"
            )
            alert_type, severity, due = Alert.Type.PI_FAILED_TO_CONNECT, Alert.Severity.MINOR, state.deadline
        yield _Cause(
            key=f"renewal:{pi.pk}:{state.stage}",
            alert_type=alert_type,
            severity=severity,
            message=events.render(code, **params),
            virtual_account_id=pi.virtual_account_id,
            product_instance_id=pi.pk,
            stage=state.stage,
            action_due=due,
            event_code=code,
            event_params=params,
        )


def recompute_alerts(account, as_of=None):
    """Open the alerts whose cause exists at ``as_of`` (a datetime; default now), clear the others.

    Returns ``(opened, cleared)`` lists of alerts. Events of the same text are recorded when an
    alert opens (the guide's Insufficient Licenses, Licenses Expiring, Failed to Connect/Renew).
    """
    now = as_of or timezone.now()
    if isinstance(now, datetime.date) and not isinstance(now, datetime.datetime):
        now = _start_of(now)
    day = now.astimezone(datetime.timezone.utc).date()
    opened, cleared = [], []
    with transaction.atomic():
        account = LocalAccount.objects.select_for_update(no_key=True).get(pk=account.pk)
        causes = {}
        for cause in (
            *_shortages(account, day),
            *_expiring(account, day),
            *_renewals(account, now),
            *_expired(account, day),
            *_duplicates(account, day),
            *_dlc_pending(account),
            *_export_pending(account),
            *_reserved_expired(account, day),
        ):
            causes[cause.key] = cause
        live = {alert.key: alert for alert in Alert.objects.select_for_update().filter(account=account).live()}
        for key, alert in live.items():
            if key in HOOK_KEYS or key.startswith(HOOK_PREFIXES):
                continue
            if key not in causes:
                alert.status, alert.cleared_at, alert.updated_at = Alert.Status.CLEARED, now, now
                alert.save(update_fields=["status", "cleared_at", "updated_at"])
                cleared.append(alert)
                continue
            cause = causes[key]
            if (alert.message, alert.action_due) != (cause.message, cause.action_due):
                alert.message, alert.action_due, alert.updated_at = cause.message, cause.action_due, now
                alert.save(update_fields=["message", "action_due", "updated_at"])
        for key, cause in causes.items():
            if key in live:
                continue
            opened.append(_open(account, cause, now))
    return opened, cleared


def _open(account, cause, now):
    alert = Alert.objects.create(
        account=account,
        virtual_account_id=cause.virtual_account_id,
        license_id=cause.license_id,
        product_instance_id=cause.product_instance_id,
        alert_type=cause.alert_type,
        severity=cause.severity,
        key=cause.key,
        stage=cause.stage,
        message=cause.message,
        action_due=cause.action_due,
        opened_at=now,
        updated_at=now,
    )
    if cause.event_code:
        va = alert.virtual_account if cause.virtual_account_id else None
        events.record(cause.event_code, account=account, virtual_account=va, **cause.event_params)
    return alert


def _expired(account, as_of):
    groups: dict[_GroupKey, _Group] = {}
    lines = (
        Entitlement.objects.filter(
            virtual_account__account=account,
            end_date__lt=as_of,
            end_date__gte=as_of - datetime.timedelta(days=EXPIRED_ALERT_DAYS),
        )
        .select_related("license", "virtual_account")
        .order_by("pk")
    )
    for line in lines:
        key = (line.virtual_account_id, line.license_id, line.license_type, line.subscription_id, line.end_date)
        if key in groups:
            groups[key].count += line.quantity
        else:
            groups[key] = _Group(line, line.quantity)
    for (va_id, license_id, license_type, sub, end_date), group in groups.items():
        line, count = group.line, group.count
        assert end_date is not None  # the query keeps lines with an end date only
        code = f"license.expired{'_subscription' if sub else ''}{'_one' if count == 1 else ''}"
        params = {
            "count": count,
            "tag": line.license.name,
            "type": line.license_type,
            "pool_name": line.virtual_account.name,
            "end_date": end_date.isoformat(),
            "sub_ref_id": sub,
        }
        # No event: expire_entitlements() records the same text when the lines leave the pool.
        yield _Cause(
            key=f"expired:{va_id}:{license_id}:{license_type}:{sub}:{end_date.isoformat()}",
            alert_type=Alert.Type.LICENSES_EXPIRED,
            severity=Alert.Severity.MINOR,
            message=events.render(code, **params),
            virtual_account_id=va_id,
            license_id=license_id,
        )


def _reserved_expired(account, as_of):
    """ "Reserved License Expired": a term license in a reservation has ended (time-driven: the
    recompute finds it the day after the end date). The alert clears when the reservation is
    updated to valid terms (``update_reservation``) or returned."""
    rows = (
        LicenseReservation.objects.filter(product_instance__account=account, end_date__lt=as_of)
        .select_related("license", "product_instance__virtual_account")
        .order_by("pk")
    )
    for row in rows:
        pi = row.product_instance
        assert row.end_date is not None  # the query keeps ended terms only
        params = {
            "identifier": pi.display_name,
            "pool_name": pi.virtual_account.name,
            "count": row.quantity,
            "tag": row.license.name,
            "end_date": row.end_date.isoformat(),
        }
        yield _Cause(
            key=f"reserved_expired:{pi.pk}:{row.license_id}:{row.end_date.isoformat()}",
            alert_type=Alert.Type.RESERVED_EXPIRED,
            severity=Alert.Severity.MINOR,
            message=events.render("reservation.expired", **params),
            virtual_account_id=pi.virtual_account_id,
            license_id=row.license_id,
            product_instance_id=pi.pk,
            event_code="reservation.expired",
            event_params=params,
        )


def _duplicates(account, as_of):
    # (va, license): (its first line, the subscription ids of its lines)
    subscriptions: dict[tuple[int, int], tuple[Entitlement, set[str]]] = {}
    lines = (
        Entitlement.objects.filter(valid_on_q(as_of), virtual_account__account=account)
        .exclude(subscription_id="")
        .select_related("license", "virtual_account")
        .order_by("pk")
    )
    for line in lines:
        entry = subscriptions.setdefault((line.virtual_account_id, line.license_id), (line, set()))
        entry[1].add(line.subscription_id)
    for (va_id, license_id), (line, subs) in subscriptions.items():
        if len(subs) < 2:
            continue
        params = {
            "pool_name": line.virtual_account.name,
            "tag": line.license.name,
            "subscriptions": ", ".join(f"“{s}”" for s in sorted(subs)),
        }
        yield _Cause(
            key=f"duplicate:{va_id}:{license_id}",
            alert_type=Alert.Type.DUPLICATE_LICENSES,
            severity=Alert.Severity.MINOR,
            message=events.render("license.duplicate", **params),
            virtual_account_id=va_id,
            license_id=license_id,
            event_code="license.duplicate",
            event_params=params,
        )


def _sync_required_cause(reason):
    code = SYNC_REQUIRED_EVENTS[reason]
    return _Cause(
        key=f"sync_required:{reason}",
        alert_type=Alert.Type.SYNC_REQUIRED,
        severity=Alert.Severity.MAJOR,
        message=events.render(code),
        event_code=code,
        event_params={},
    )


def _dlc_pending(account):
    if Conversion.objects.filter(account=account, status=Conversion.Status.PENDING).exists():
        yield _sync_required_cause(SYNC_DLC)


def _export_pending(account):
    from ..models import DeviceRequest

    kinds = (DeviceRequest.Kind.EXPORT_AUTHORIZE, DeviceRequest.Kind.EXPORT_RETURN)
    if DeviceRequest.objects.filter(account=account, status=DeviceRequest.Status.PENDING, kind__in=kinds).exists():
        yield _sync_required_cause(SYNC_EXPORT)


# --- Hooks: alerts whose cause the device protocol or the synchronization engine knows -------------


def _raise(account, cause, now):
    """Open ``cause``'s alert unless one is live for its key; returns the live alert."""
    now = now or timezone.now()
    with transaction.atomic():
        LocalAccount.objects.select_for_update(no_key=True).filter(pk=account.pk).first()
        alert = Alert.objects.filter(account=account, key=cause.key).live().first()
        if alert is None:
            return _open(account, cause, now)
        if (alert.message, alert.severity) != (cause.message, cause.severity):
            alert.message, alert.severity, alert.updated_at = cause.message, cause.severity, now
            alert.save(update_fields=["message", "severity", "updated_at"])
        return alert


def raise_refusal_alert(
    account, *, key, alert_type, virtual_account, code, params, now, quiet_for, product_instance=None
):
    """Open (or re-open) the alert of a refused device message and record its event, at most once
    per ``quiet_for`` per ``key``: a storm of refused messages does not flood the log.

    Called after the refused message's work was rolled back, in a transaction of its own. The
    account's row is locked (``NO KEY UPDATE``, see "Locking") so two refusals never both open.
    Returns the live alert.
    """
    with transaction.atomic():
        LocalAccount.objects.select_for_update(no_key=True).filter(pk=account.pk).values_list("pk").first()
        alert = Alert.objects.select_for_update().filter(account=account, key=key).live().first()
        if alert is not None and alert.updated_at > now - quiet_for:
            return alert  # already told within this window
        message = events.render(code, **params)
        if alert is None:
            alert = Alert.objects.create(
                account=account,
                virtual_account=virtual_account,
                product_instance=product_instance,
                alert_type=alert_type,
                severity=Alert.Severity.MAJOR,
                key=key,
                message=message,
                opened_at=now,
                updated_at=now,
            )
        else:
            alert.status, alert.message, alert.updated_at = Alert.Status.OPEN, message, now
            alert.dismissed_at = alert.dismissed_by = alert.remind_until = None
            alert.save(
                update_fields=["status", "message", "updated_at", "dismissed_at", "dismissed_by", "remind_until"]
            )
        events.record(code, virtual_account=virtual_account, **params)
        return alert


def _clear(account, key, now=None):
    """Auto-clear the live alert of ``key``; returns it, or None when there was none."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(account=account, key=key).live().first()
        if alert is not None:
            alert.status, alert.cleared_at, alert.updated_at = Alert.Status.CLEARED, now, now
            alert.save(update_fields=["status", "cleared_at", "updated_at"])
        return alert


def raise_sync_required(account, reason, now=None):
    """ "Synchronization Required": ``SYNC_DLC`` (Device Led Conversion requests are pending) or
    ``SYNC_EXPORT`` (an Export Controlled license request needs authorization from CSSM)."""
    if reason not in SYNC_REQUIRED_EVENTS:
        raise ValueError(f"unknown synchronization reason {reason!r}")
    return _raise(account, _sync_required_cause(reason), now)


def clear_sync_required(account, reason, now=None):
    """The synchronization brought the answers: the "Synchronization Required" alert clears."""
    if reason not in SYNC_REQUIRED_EVENTS:
        raise ValueError(f"unknown synchronization reason {reason!r}")
    return _clear(account, f"sync_required:{reason}", now)


SYNC_OVERDUE_MINOR_DAYS, SYNC_OVERDUE_MAJOR_DAYS, REREGISTRATION_DAYS = 30, 90, 365


def sync_overdue(account, last_synced_at, now=None):
    """Bring the account's Synchronization Overdue alert in line with its last synchronization.

    The guide's "Synchronization Alerts": Minor at 30 to 89 days, Major at 90 to 364 days,
    "Re-registration Required" (Major) at 365 days. A synchronization (fewer than 30 days)
    clears it. Called by the sync engine after each synchronization and by its daily check;
    returns the live alert or None.
    """
    now = now or timezone.now()
    days = (now - last_synced_at).days
    if days < SYNC_OVERDUE_MINOR_DAYS:
        _clear(account, SYNC_OVERDUE_KEY, now)
        return None
    if days >= REREGISTRATION_DAYS:
        code, alert_type, severity, stage = (
            "alert.reregistration_required",
            Alert.Type.REREGISTRATION_REQUIRED,
            Alert.Severity.MAJOR,
            REREGISTRATION_DAYS,
        )
    elif days >= SYNC_OVERDUE_MAJOR_DAYS:
        code, alert_type, severity, stage = (
            "alert.sync_overdue",
            Alert.Type.SYNC_OVERDUE,
            Alert.Severity.MAJOR,
            SYNC_OVERDUE_MAJOR_DAYS,
        )
    else:
        code, alert_type, severity, stage = (
            "alert.sync_overdue_minor",
            Alert.Type.SYNC_OVERDUE,
            Alert.Severity.MINOR,
            SYNC_OVERDUE_MINOR_DAYS,
        )
    with transaction.atomic():
        live = Alert.objects.select_for_update().filter(account=account, key=SYNC_OVERDUE_KEY).live().first()
        if live is not None and (live.alert_type, live.stage) != (alert_type, stage):
            # A new stage is a new alert (and a new event); the previous stage's one clears.
            live = None
            _clear(account, SYNC_OVERDUE_KEY, now)
        cause = _Cause(
            key=SYNC_OVERDUE_KEY,
            alert_type=alert_type,
            severity=severity,
            stage=stage,
            message=events.render(code, days=days),
            event_code=code,
            event_params={"days": days},
        )
        if live is None:
            return _open(account, cause, now)
        if live.message != cause.message:
            live.message, live.updated_at = cause.message, now
            live.save(update_fields=["message", "updated_at"])
        return live


def _require(actor, alert):
    if actor is not None and not can(
        actor, Action.VIEW_ACCOUNT, account=alert.account, virtual_account=alert.virtual_account
    ):
        raise NotAllowed("You are not allowed to act on this alert.")


@transaction.atomic
def dismiss_alert(*, actor, alert, now=None):
    """Dismiss an alert the guide lets people dismiss (Failed to Renew); the others clear themselves."""
    _require(actor, alert)
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.alert_type not in DISMISSIBLE:
        raise ServiceError(
            f"A “{alert.get_alert_type_display()}” alert cannot be dismissed; it is dismissed "
            "automatically when its cause is resolved."
        )
    if alert.status != Alert.Status.OPEN:
        raise ServiceError("This alert is no longer open.")
    now = now or timezone.now()
    alert.status, alert.dismissed_at, alert.updated_at = Alert.Status.DISMISSED, now, now
    alert.dismissed_by = actor if getattr(actor, "pk", None) else None
    alert.save(update_fields=["status", "dismissed_at", "dismissed_by", "updated_at"])
    return alert


def alert_actions(alert):
    """The guide's actions of ``alert`` (those of its type, while it is open), before any
    permission: the view offers Transfer / Remove Instance only where the principal may do them."""
    if alert.status != Alert.Status.OPEN:
        return ()
    actions = []
    if alert.alert_type in TRANSFERS and alert.virtual_account_id and alert.license_id:
        actions.append(TRANSFER_LICENSES)
    if alert.alert_type in REMOVABLE and alert.product_instance_id:
        actions.append(REMOVE_INSTANCE)
    if alert.alert_type == Alert.Type.RESERVED_EXPIRED and alert.product_instance_id and alert.license_id:
        actions.append(UPDATE_RESERVATION)
    if alert.alert_type in DISMISSIBLE:
        actions.append(DISMISS)
    if alert.alert_type in REMINDABLE:
        actions.append(REMIND_LATER)
    return tuple(actions)


def next_warning_at(alert):
    """When the warning period after ``alert``'s begins (Remind Later hides it until then)."""
    if alert.alert_type == Alert.Type.LICENSES_EXPIRING:
        later = [d for d in EXPIRY_WARNING_DAYS if d < alert.stage]
        end = alert.action_due
        return end - datetime.timedelta(days=max(later)) if later else end
    # Failed to Connect: stages 30 and 60 days of silence, then Failed to Renew at 90.
    deadline = alert.action_due  # last contact + 90 days
    later = [d for d in CONNECT_STAGES if d > alert.stage]
    return deadline - datetime.timedelta(days=CONNECT_STAGES[-1] - min(later))


@transaction.atomic
def remind_later(*, actor, alert, now=None):
    """ "Remind Later": hide the alert until the next warning period."""
    _require(actor, alert)
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.alert_type not in REMINDABLE:
        raise ServiceError(f"A “{alert.get_alert_type_display()}” alert has no Remind Later.")
    if alert.status != Alert.Status.OPEN:
        raise ServiceError("This alert is no longer open.")
    now = now or timezone.now()
    alert.remind_until, alert.updated_at = max(next_warning_at(alert), now), now
    alert.save(update_fields=["remind_until", "updated_at"])
    return alert


def recompute_all(as_of=None):
    """Recompute the alerts of every active local account; returns {account id: (opened, cleared)} counts."""
    done = {}
    for account in LocalAccount.objects.filter(status=LocalAccount.Status.ACTIVE).order_by("pk"):
        opened, cleared = recompute_alerts(account, as_of)
        done[account.pk] = (len(opened), len(cleared))
    return done


__all__ = [
    "recompute_alerts",
    "recompute_all",
    "dismiss_alert",
    "remind_later",
    "next_warning_at",
    "expiry_stage",
    "EXPIRY_WARNING_DAYS",
    "raise_sync_required",
    "clear_sync_required",
    "sync_overdue",
    "SYNC_DLC",
    "SYNC_EXPORT",
    "raise_refusal_alert",
    "alert_actions",
    "days_until",
    "action_due_text",
    "UPDATE_RESERVATION",
]


def _sees_whole_account(who, account):
    principal = principal_for(who)
    return principal.is_system_wide_admin or bool(principal.grants(account)[0])


def visible_alerts(who, account, virtual_accounts=None):
    """Every alert of ``account`` ``who`` may see (any status): all of them for an
    account-wide role; otherwise those of the user's virtual accounts (not the account-level ones)."""
    alerts = Alert.objects.filter(account=account)
    if _sees_whole_account(who, account):
        return alerts
    vas = virtual_accounts if virtual_accounts is not None else visible_virtual_accounts(who, account)
    return alerts.filter(Q(virtual_account__in=vas))
