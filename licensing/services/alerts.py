"""Alerts: opened from what the data says, auto-cleared when the cause is gone.

``recompute_alerts(account, as_of)`` works out the causes that exist now and brings the
account's alerts in line, under a lock on the account row. A cause has a ``key`` and an alert
live for that key is kept, so running it twice opens nothing new. Alerts whose cause is not in
the licensing data (``HOOK_KEYS``, ``HOOK_PREFIXES``) are left to the hooks below, which the
device protocol and the synchronization call. Each type's cause, severity and actions:
docs/licensing-engine.md, "Alerts", and docs/licensing-preferences-conversion-tags.md, "Alert types".

``recompute_alerts(account, scope=...)`` recomputes only what a write touched (an
``alert_hooks.Scope``): the writes call it on commit (``alert_hooks``). The scheduled task
(``run_safety_net``) recomputes everything: it raises the time-driven alerts and catches up after
downtime, and a write-driven alert it has to open or clear is a missed hook, logged as a warning.
When alerts are computed: docs/licensing-engine.md, "When alerts are computed".
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.rbac import Action, can, principal_for, visible_virtual_accounts
from core import events
from core.errors import NotAllowed, ServiceError
from core.events.messages import ALERT_SEVERITY

from ..models import (
    Alert,
    Conversion,
    Entitlement,
    LicenseReservation,
    LocalAccount,
    ProductInstance,
    VirtualAccount,
)
from ..models.licenses import valid_on_q
from . import alert_hooks
from .alert_hooks import Scope
from .compliance import RENEWAL_PERIOD_DAYS, license_positions, positions_of
from .product_instances import FAILED_TO_CONNECT, FAILED_TO_RENEW, renewal_state

logger = logging.getLogger(__name__)

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

# Write-driven: a write makes or unmakes the cause (usage, license lines, device requests), and the
# write's hook recomputes it when it commits (alert_hooks). The scheduled task finding one of these
# to open or clear means a hook was missed, unless the clock explains it (``_clock_moved``: a
# line started or ended, an instance reached Failed to Renew and its usage stopped counting).
WRITE_DRIVEN = frozenset({Alert.Type.INSUFFICIENT_LICENSES, Alert.Type.DUPLICATE_LICENSES, Alert.Type.SYNC_REQUIRED})
# Time-driven: the clock makes the cause (a line nears or passes its end date, an instance stays
# silent, a synchronization grows old). The scheduled task raises them; a write can clear some
# (an instance that calls in clears its Failed to Connect / Renew through its hook).
TIME_DRIVEN = frozenset(
    {
        Alert.Type.LICENSES_EXPIRING,
        Alert.Type.LICENSES_EXPIRED,
        Alert.Type.PI_FAILED_TO_CONNECT,
        Alert.Type.PI_FAILED_TO_RENEW,
        Alert.Type.SYNC_OVERDUE,
        Alert.Type.REREGISTRATION_REQUIRED,
    }
)
# The types a scope recomputes, by what the scope names (see alert_hooks.Scope).
_SHORTAGE_TYPES = (Alert.Type.INSUFFICIENT_LICENSES,)
_LINE_TYPES = (Alert.Type.DUPLICATE_LICENSES, Alert.Type.LICENSES_EXPIRING, Alert.Type.LICENSES_EXPIRED)
_RENEWAL_TYPES = (Alert.Type.PI_FAILED_TO_CONNECT, Alert.Type.PI_FAILED_TO_RENEW)
_LIVE = (Alert.Status.OPEN, Alert.Status.DISMISSED)


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


def _shortages(account, as_of, positions=None):
    for p in license_positions(account, as_of=as_of) if positions is None else positions:
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
                stage=p.shortage,  # kept for the "Licenses Corrected" event when it clears
                event_code=code,
                event_params=params,
            )


def _lines_of(account, virtual_accounts):
    """The license lines of ``account``, or of some of its virtual accounts (ids), that hold
    licenses (an upgrade still pending holds none: it neither expires nor duplicates)."""
    if virtual_accounts is None:
        return Entitlement.objects.filter(virtual_account__account=account, quantity__gt=0)
    return Entitlement.objects.filter(virtual_account_id__in=list(virtual_accounts), quantity__gt=0)


def _expiring(account, as_of, virtual_accounts=None):
    groups: dict[_GroupKey, _Group] = {}
    lines = (
        _lines_of(account, virtual_accounts)
        .filter(valid_on_q(as_of), end_date__lte=as_of + datetime.timedelta(days=EXPIRY_WARNING_DAYS[0]))
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


def _renewals(account, now, product_instances=None):
    pis = ProductInstance.objects.filter(account=account)
    if product_instances is not None:
        pis = pis.filter(pk__in=list(product_instances))
    for pi in pis.select_related("virtual_account"):
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


def _moment(as_of):
    now = as_of or timezone.now()
    if isinstance(now, datetime.date) and not isinstance(now, datetime.datetime):
        now = _start_of(now)
    return now, now.astimezone(datetime.timezone.utc).date()


def recompute_alerts(account, as_of=None, *, scope=None):
    """Open the alerts whose cause exists at ``as_of`` (a datetime; default now), clear the others.

    ``scope`` (an ``alert_hooks.Scope``) limits the work to what a write touched: only the causes
    of its virtual accounts and product instances are computed, and only their live alerts are
    opened, cleared or updated. None (or a full scope) recomputes the whole account.
    ``account`` is a LocalAccount or its id.

    Returns ``(opened, cleared)`` lists of alerts. Events of the same text are recorded when an
    alert opens (the guide's Insufficient Licenses, Licenses Expiring, Failed to Connect/Renew).
    """
    now, day = _moment(as_of)
    account_id = getattr(account, "pk", account)
    if scope is not None and not scope.full:
        return _recompute_scope(account_id, scope, now, day)
    with transaction.atomic():
        account = LocalAccount.objects.select_for_update(no_key=True).get(pk=account_id)
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
        live = {
            alert.key: alert
            for alert in Alert.objects.select_for_update().filter(account=account).live()
            if not (alert.key in HOOK_KEYS or alert.key.startswith(HOOK_PREFIXES))
        }
        return _reconcile(account, causes, live, now, recheck=True)


def _scope_causes(account_id, scope, now, day):
    """{key: cause} of the causes ``scope`` covers."""
    causes = {}
    vas = scope.shortage_vas
    if vas:
        unknown = [va_id for va_id, name in vas.items() if name is None]
        if unknown:
            vas.update(VirtualAccount.objects.filter(account_id=account_id, pk__in=unknown).values_list("pk", "name"))
        names = {va_id: name for va_id, name in vas.items() if name is not None}  # a deleted one has none
        for cause in _shortages(account_id, day, positions=positions_of(names, as_of=day)):
            causes[cause.key] = cause
    if scope.lines:
        for producer in (_expiring, _expired, _duplicates):
            for cause in producer(account_id, day, virtual_accounts=scope.lines):
                causes[cause.key] = cause
    if scope.product_instances:
        for cause in _renewals(account_id, now, product_instances=scope.product_instances):
            causes[cause.key] = cause
    return causes


def _scope_alerts(account_id, scope):
    """The live alerts of the types and objects ``scope`` covers (a queryset)."""
    where = Q(pk__in=[])
    if scope.shortage_vas:
        where |= Q(alert_type__in=_SHORTAGE_TYPES, virtual_account_id__in=list(scope.shortage_vas))
    if scope.lines:
        where |= Q(alert_type__in=_LINE_TYPES, virtual_account_id__in=list(scope.lines))
    if scope.product_instances:
        where |= Q(alert_type__in=_RENEWAL_TYPES, product_instance_id__in=list(scope.product_instances))
    return Alert.objects.filter(where, account_id=account_id, status__in=_LIVE)


def _scope_live(account_id, scope, *, lock):
    """{key: alert} of the live alerts of the types and objects ``scope`` covers."""
    alerts = _scope_alerts(account_id, scope)
    if lock:
        alerts = alerts.select_for_update()
    return {alert.key: alert for alert in alerts}


def _live_texts(account_id, scope):
    """{key: (message, action_due)} of the live alerts ``scope`` covers: the unlocked read of the
    check, values only (no model instances to build on the device path)."""
    return {
        key: (message, action_due)
        for key, message, action_due in _scope_alerts(account_id, scope).values_list("key", "message", "action_due")
    }


def _differs(causes, live_texts):
    if causes.keys() != live_texts.keys():
        return True
    return any(live_texts[k] != (c.message, c.action_due) for k, c in causes.items())


def _recompute_scope(account_id, scope, now, day):
    """Mostly a write changes no alert: two reads (the positions, the live alerts), no transaction
    and no lock. When something differs, the reads are made again under the account's lock (the
    lock every alert writer takes) and the differences written.

    Why reading without a lock is safe: every commit that writes alerts is followed by such a
    check of what it wrote (``_reconcile(recheck=True)``), made after its commit. So a check that
    read the alerts before another writer's commit, and found nothing to do, is never the last
    word: that writer's own check reads its alerts and the data as they are after its commit, and
    writes again if another write made them stale meanwhile.
    """
    causes = _scope_causes(account_id, scope, now, day)
    if not _differs(causes, _live_texts(account_id, scope)):
        return [], []
    with transaction.atomic():
        account = LocalAccount.objects.select_for_update(no_key=True).get(pk=account_id)
        causes = _scope_causes(account_id, scope, now, day)
        return _reconcile(account, causes, _scope_live(account_id, scope, lock=True), now, recheck=True)


# What ``compliance.positions_and_live_alerts`` reads with AUTHORIZE's positions, in one statement:
# the live Insufficient Licenses alerts of the virtual account.
LIVE_SHORTAGES = {
    "alert_type": Alert.Type.INSUFFICIENT_LICENSES,
    "statuses": (Alert.Status.OPEN, Alert.Status.DISMISSED),
}


def check_shortages(account_id, virtual_account, positions, *, now, live):
    """The Insufficient Licenses alerts of ``virtual_account`` against its ``positions``, both read
    by one statement after the write that changed its usage committed (AUTHORIZE:
    ``device_usage.finish_authorize``; ``live`` is {key: (message, no action due)}, as
    ``compliance.positions_and_live_alerts`` gives it with ``LIVE_SHORTAGES``).

    No statement when nothing changes. A failure is logged, not raised: the write is committed and
    answered, and the scheduled recompute finds what this check could not write.
    """
    try:
        causes = {cause.key: cause for cause in _shortages(account_id, None, positions=positions)}
        texts = {key: (message, None if no_due else "due") for key, (message, no_due) in live.items()}
        if not _differs(causes, texts):
            return [], []
        now, day = _moment(now)
        scope = Scope(usage={virtual_account.pk: virtual_account.name})
        with transaction.atomic():
            account = LocalAccount.objects.select_for_update(no_key=True).get(pk=account_id)
            causes = _scope_causes(account_id, scope, now, day)
            return _reconcile(account, causes, _scope_live(account_id, scope, lock=True), now, recheck=True)
    except Exception:
        logger.exception("The alerts of local account %s could not be checked after a usage change", account_id)
        return [], []


def _scope_of(alerts):
    """The scope whose recompute covers ``alerts``."""
    scope = Scope()
    for alert in alerts:
        if alert.alert_type in _SHORTAGE_TYPES and alert.virtual_account_id:
            scope.usage[alert.virtual_account_id] = None
        elif alert.alert_type in _LINE_TYPES and alert.virtual_account_id:
            scope.lines[alert.virtual_account_id] = None
        elif alert.alert_type in _RENEWAL_TYPES and alert.product_instance_id:
            scope.product_instances.add(alert.product_instance_id)
    return scope


def _reconcile(account, causes, live, now, *, recheck=False):
    """Bring the ``live`` alerts ({key: alert}) in line with ``causes`` ({key: cause}).

    ``recheck``: when an alert of a scoped type was written, check it again once this transaction
    commits (see ``_recompute_scope``).
    """
    opened, cleared, updated = [], [], []
    subjects = {_subject(cause) for cause in causes.values()}
    for key, alert in live.items():
        if key not in causes:
            alert.status, alert.cleared_at, alert.updated_at = Alert.Status.CLEARED, now, now
            alert.save(update_fields=["status", "cleared_at", "updated_at"])
            cleared.append(alert)
            if _subject(alert) not in subjects:  # gone, not moved to its next warning period
                _record_cleared(account, alert)
            continue
        cause = causes[key]
        if (alert.message, alert.action_due, alert.stage) != (cause.message, cause.action_due, cause.stage):
            alert.message, alert.action_due, alert.stage = cause.message, cause.action_due, cause.stage
            alert.updated_at = now
            alert.save(update_fields=["message", "action_due", "stage", "updated_at"])
            updated.append(alert)
    for key, cause in causes.items():
        if key in live:
            continue
        opened.append(_open(account, cause, now))
    if recheck:
        alert_hooks.touched(account.pk, _scope_of([*opened, *cleared, *updated]))
    return opened, cleared


def _subject(alert_or_cause):
    """What an alert is about: its type and objects (an Expiring alert moving from its 30-day to
    its 14-day period keeps its subject under a new key)."""
    a = alert_or_cause
    return (a.alert_type, a.virtual_account_id, a.license_id, a.product_instance_id)


def _record_cleared(account, alert):
    """The event of an alert whose cause is gone: the guide's "Licenses Corrected" for a shortage,
    ``alert.cleared`` with the alert's last text for the others."""
    va = alert.virtual_account if alert.virtual_account_id else None
    if alert.alert_type == Alert.Type.INSUFFICIENT_LICENSES and va is not None and alert.license_id:
        count = alert.stage or 1
        events.record(
            "license.corrected_one" if count == 1 else "license.corrected",
            account=account,
            virtual_account=va,
            pool_name=va.name,
            tag=alert.license.name,
            count=count,
        )
        return
    events.record(
        "alert.cleared",
        account=account,
        virtual_account=va,
        alert_name=alert.get_alert_type_display(),
        message=alert.message,
    )


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
        # The alert's weight, not the event type's: a Major alert goes to syslog as ALERT.
        severity = ALERT_SEVERITY.get(alert.severity)
        events.record(cause.event_code, account=account, virtual_account=va, severity=severity, **cause.event_params)
    return alert


def _expired(account, as_of, virtual_accounts=None):
    groups: dict[_GroupKey, _Group] = {}
    lines = (
        _lines_of(account, virtual_accounts)
        .filter(end_date__lt=as_of, end_date__gte=as_of - datetime.timedelta(days=EXPIRED_ALERT_DAYS))
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


def _duplicates(account, as_of, virtual_accounts=None):
    # (va, license): (its first line, the subscription ids of its lines)
    subscriptions: dict[tuple[int, int], tuple[Entitlement, set[str]]] = {}
    lines = (
        _lines_of(account, virtual_accounts)
        .filter(valid_on_q(as_of))
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


def recompute_all(as_of=None, *, since=None):
    """Recompute the alerts of every active local account; returns {account id: (opened, cleared)} counts.

    The safety net: a write-driven alert it opens or clears is logged as a missed hook (WARNING),
    unless the clock explains it since ``since`` (the previous run); without ``since`` it cannot
    tell, and says so at INFO.
    """
    now, _day = _moment(as_of)
    done = {}
    for account in LocalAccount.objects.filter(status=LocalAccount.Status.ACTIVE).order_by("pk"):
        opened, cleared = recompute_alerts(account, now)
        _report_missed_hooks(account, opened, cleared, since, now)
        done[account.pk] = (len(opened), len(cleared))
    return done


def _clock_moved(account, since, now):
    """Ids of the virtual accounts whose positions the clock alone changed between ``since`` and
    ``now``: a license line started or ended, or a product instance reached Failed to Renew (its
    usage stops counting)."""
    since_day, day = since.astimezone(datetime.timezone.utc).date(), now.astimezone(datetime.timezone.utc).date()
    lines = Entitlement.objects.filter(virtual_account__account=account).filter(
        Q(start_date__gt=since_day, start_date__lte=day) | Q(end_date__gte=since_day, end_date__lt=day)
    )
    renewal = datetime.timedelta(days=RENEWAL_PERIOD_DAYS)
    silent = ProductInstance.objects.filter(account=account).filter(
        Q(last_contact_at__gt=since - renewal, last_contact_at__lte=now - renewal)
        | Q(last_contact_at__isnull=True, registered_at__gt=since - renewal, registered_at__lte=now - renewal)
    )
    return set(lines.values_list("virtual_account_id", flat=True)) | set(
        silent.values_list("virtual_account_id", flat=True)
    )


def _report_missed_hooks(account, opened, cleared, since, now):
    changed = [(alert, "opened") for alert in opened] + [(alert, "cleared") for alert in cleared]
    changed = [(alert, how) for alert, how in changed if alert.alert_type in WRITE_DRIVEN]
    if not changed:
        return
    clock = _clock_moved(account, since, now) if since is not None else None
    for alert, how in changed:
        if clock is None:
            logger.info(
                "The scheduled alert recompute %s %s of local account %s (%s); no previous run is known "
                "to tell a missed hook from the clock.",
                how,
                alert.key,
                account.pk,
                account.name,
            )
        elif alert.alert_type != Alert.Type.SYNC_REQUIRED and alert.virtual_account_id in clock:
            logger.info(
                "The scheduled alert recompute %s %s of local account %s (%s): the clock changed its "
                "virtual account's positions since %s.",
                how,
                alert.key,
                account.pk,
                account.name,
                since.isoformat(),
            )
        else:
            logger.warning(
                "Missed alert hook: the scheduled alert recompute %s %s of local account %s (%s); the "
                "write that changed its cause should have (licensing.services.alert_hooks).",
                how,
                alert.key,
                account.pk,
                account.name,
            )


def _last_run_key():
    # Named after the database: a test run and a live server sharing one cache keep their own.
    return f"onprem:alerts-safety-net:last-run:v1:{settings.DATABASES['default']['NAME']}"


def run_safety_net(now=None):
    """The scheduled task's work: recompute every account, then remember when (the next run's
    ``since``). After downtime it opens what is due now, once: each warning period is one key,
    so the periods passed while the server was off are not opened one after the other."""
    now = now or timezone.now()
    try:
        since = cache.get(_last_run_key())
    except Exception:  # noqa: BLE001 - redis.ConnectionError, OSError, ...: the safety net runs on
        logger.warning("The cache is unavailable: the alert recompute cannot tell missed hooks from the clock")
        since = None
    if since is not None and since > now:
        since = None  # a clock set back: nothing to compare with
    done = recompute_all(now, since=since)
    try:
        cache.set(_last_run_key(), now, timeout=None)
    except Exception:  # noqa: BLE001 - any cache failure: the next run says it cannot tell
        logger.warning("The cache is unavailable: the alert recompute could not remember this run")
    return done


__all__ = [
    "recompute_alerts",
    "recompute_all",
    "run_safety_net",
    "WRITE_DRIVEN",
    "TIME_DRIVEN",
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
