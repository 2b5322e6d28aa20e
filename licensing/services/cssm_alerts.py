"""The alerts whose cause CSSM or the synchronization calendar knows, and the Smart Licensing Agreement.

Each alert has one key per local account (``cssm:<name>``): it opens when its cause appears,
stays (one row, whatever how often the cause is seen again), and clears when the cause is gone.
Opening records the alert's event; clearing records ``alert.cssm_cleared`` with the reason.
The callers are the synchronization engine (``sync.services``: applying a SyncResponse or an
Authorization, creating a registration request, and its daily calendar check), since this app
does not know the synchronization's models. Causes, severities and texts:
docs/licensing-engine.md, "The alerts".
"""

import datetime
import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError
from core.events.messages import ALERT_SEVERITY

from ..models import Alert, LicenseAgreement, LocalAccount

KEY_PREFIX = "cssm:"
AGREEMENT_UPDATED = KEY_PREFIX + "agreement_updated"
AGREEMENT_PENDING = KEY_PREFIX + "agreement_pending"
ONPREM_REMOVED = KEY_PREFIX + "onprem_removed"
AUTHORIZATION_PENDING = KEY_PREFIX + "authorization_pending"
AUTHORIZATION_READY = KEY_PREFIX + "authorization_ready"
SYNC_DEADLINE = KEY_PREFIX + "sync_deadline"
ONPREM_EXPIRED = KEY_PREFIX + "onprem_expired"
VERSION_NOTE = KEY_PREFIX + "version_note"

# CSSM removes an On-Prem that did not synchronize within 90 days; 30 days before that the
# "Upcoming SSM On-Prem Sync Deadline (30 Day)" warns.
REMOVAL_DAYS, DEADLINE_WARNING_DAYS = 90, 30


@dataclass
class _Cause:
    key: str
    alert_type: str
    severity: str
    code: str
    params: dict
    action_due: datetime.datetime | None = None

    @property
    def message(self):
        return events.render(self.code, **self.params)


def _days(n):
    """The guide's ``%{not_sync_days}``: a count with its unit, "1 day" / "45 days"."""
    return "1 day" if n == 1 else f"{n} days"


def _lock(account):
    LocalAccount.objects.select_for_update(no_key=True).filter(pk=account.pk).values_list("pk").first()


def _raise(account, cause, now, notify=None):
    """Open ``cause``'s alert (and record its event, mailing ``notify`` where the event has an email
    notification) unless one is live for its key."""
    with transaction.atomic():
        _lock(account)
        alert = Alert.objects.select_for_update().filter(account=account, key=cause.key).live().first()
        message = cause.message
        if alert is None:
            alert = Alert.objects.create(
                account=account,
                alert_type=cause.alert_type,
                severity=cause.severity,
                key=cause.key,
                message=message,
                action_due=cause.action_due,
                opened_at=now,
                updated_at=now,
            )
            severity = ALERT_SEVERITY.get(cause.severity)  # a Major alert goes to syslog as ALERT
            events.record(cause.code, account=account, notify=notify, severity=severity, **cause.params)
            return alert
        if (alert.alert_type, alert.severity, alert.message, alert.action_due) != (
            cause.alert_type,
            cause.severity,
            message,
            cause.action_due,
        ):
            alert.alert_type, alert.severity, alert.message = cause.alert_type, cause.severity, message
            alert.action_due, alert.updated_at = cause.action_due, now
            alert.save(update_fields=["alert_type", "severity", "message", "action_due", "updated_at"])
        return alert


def _clear(account, key, reason, now):
    """Clear the live alert of ``key`` (recording why); returns it, or None when there was none."""
    with transaction.atomic():
        _lock(account)
        alert = Alert.objects.select_for_update().filter(account=account, key=key).live().first()
        if alert is None:
            return None
        alert.status, alert.cleared_at, alert.updated_at = Alert.Status.CLEARED, now, now
        alert.save(update_fields=["status", "cleared_at", "updated_at"])
        events.record(
            "alert.cssm_cleared",
            account=account,
            alert_name=alert.get_alert_type_display(),
            account_name=account.name,
            reason=reason,
        )
        return alert


def _set(account, key, cause, reason, now):
    return _raise(account, cause, now) if cause is not None else _clear(account, key, reason, now)


# --- Synchronization responses ---------------------------------------------------------------------


def apply_cssm_state(account, *, onprem_name, onprem_status, agreement, notices, now=None):
    """What a SyncResponse says besides licenses: the On-Prem's status at CSSM, the agreement,
    the notices. Called by the synchronization engine inside the transaction that applies it.

    ``agreement`` None (the response has none) leaves the account's agreement as it is; ``notices``
    are all of CSSM's notices (a notice left out is withdrawn).
    """
    now = now or timezone.now()
    removed = onprem_status == "removed"
    _set(
        account,
        ONPREM_REMOVED,
        _Cause(
            ONPREM_REMOVED,
            Alert.Type.ONPREM_REMOVED,
            Alert.Severity.MAJOR,
            "alert.onprem_removed",
            {"onprem_name": onprem_name},
        )
        if removed
        else None,
        "Cisco Smart Software Manager synchronized the On-Prem.",
        now,
    )
    if removed:
        return  # nothing else of the response is applied
    if agreement is not None:
        _apply_agreement(account, agreement, now)
    notes = {notice["code"]: notice["text"] for notice in notices or ()}
    note = notes.get("version_compatibility")
    _set(
        account,
        VERSION_NOTE,
        _Cause(VERSION_NOTE, Alert.Type.VERSION_NOTE, Alert.Severity.MINOR, "alert.version_note", {"text": note})
        if note
        else None,
        "Cisco Smart Software Manager withdrew the note.",
        now,
    )


def apply_authorization_notices(account, notices, now=None):
    """An Authorization's notices (the Version Compatibility Note of a fresh registration)."""
    now = now or timezone.now()
    note = {notice["code"]: notice["text"] for notice in notices or ()}.get("version_compatibility")
    if note:
        _raise(
            account,
            _Cause(VERSION_NOTE, Alert.Type.VERSION_NOTE, Alert.Severity.MINOR, "alert.version_note", {"text": note}),
            now,
        )


def _apply_agreement(account, data, now):
    agreement = LicenseAgreement.objects.select_for_update().filter(account=account).first()
    if agreement is None:
        agreement = LicenseAgreement(account=account)
    agreement.version, agreement.title, agreement.text = data["version"], data["title"], data["text"]
    agreement.digest = data["digest"]
    agreement.published_on = datetime.date.fromisoformat(data["published_on"])
    agreement.cssm_accepted = data["accepted"]
    agreement.updated_at = now
    agreement.save()
    _agreement_alerts(account, agreement, now)


def _agreement_alerts(account, agreement, now):
    params = {"version": agreement.version, "title": agreement.title}
    _set(
        account,
        AGREEMENT_UPDATED,
        _Cause(AGREEMENT_UPDATED, Alert.Type.AGREEMENT_UPDATED, Alert.Severity.MAJOR, "alert.agreement_updated", params)
        if agreement.needs_acceptance
        else None,
        f"version {agreement.version} of the agreement was accepted.",
        now,
    )
    _set(
        account,
        AGREEMENT_PENDING,
        _Cause(AGREEMENT_PENDING, Alert.Type.AGREEMENT_PENDING, Alert.Severity.MINOR, "alert.agreement_pending", params)
        if agreement.acceptance_pending
        else None,
        "Cisco Smart Software Manager has the acceptance on record."
        if agreement.cssm_accepted
        else "a newer version of the agreement must be accepted.",
        now,
    )


def agreement_acceptance(account):
    """What the next SyncRequest tells CSSM (``agreement_acceptance``), or None."""
    agreement = LicenseAgreement.objects.filter(account=account).first()
    if agreement is None or not agreement.acceptance_pending or agreement.accepted_at is None:
        return None
    return {
        "version": agreement.accepted_version,
        "digest": agreement.accepted_digest,
        "accepted_by": (agreement.accepted_by_name or "system")[:255],
        "accepted_at": agreement.accepted_at.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def agreement_of(account):
    return LicenseAgreement.objects.filter(account=account).first()


def may_accept_agreement(who, account):
    return can(who, Action.ACCEPT_AGREEMENT, account=account)


def accept_agreement(*, actor, account, version, digest, now=None):
    """View/Accept Agreement: accept the version shown (``version`` and ``digest`` are what the page
    showed, so a newer text published meanwhile is not accepted unseen). The acceptance goes to
    CSSM with the next synchronization; until CSSM has it on record the agreement is pending."""
    if not may_accept_agreement(actor, account):
        raise NotAllowed("Only an Account Administrator may accept the Smart Licensing Agreement.")
    now = now or timezone.now()
    with transaction.atomic():
        _lock(account)
        agreement = LicenseAgreement.objects.select_for_update().filter(account=account).first()
        if agreement is None:
            raise ServiceError("Cisco Smart Software Manager has published no agreement for this local account.")
        if (agreement.version, agreement.digest) != (version, digest):
            raise ServiceError(
                "A newer version of the Smart Licensing Agreement was received meanwhile; review it and accept again."
            )
        if not agreement.needs_acceptance:
            raise ServiceError(f"Version {agreement.version} of the agreement is already accepted.")
        if hashlib.sha256(agreement.text.encode("utf-8")).hexdigest() != agreement.digest:
            raise ServiceError("The agreement's text does not match its digest; synchronize to receive it again.")
        name = getattr(actor, "username", "") or "system"
        agreement.accepted_version, agreement.accepted_digest = agreement.version, agreement.digest
        agreement.accepted_at, agreement.accepted_by = now, actor if getattr(actor, "pk", None) else None
        agreement.accepted_by_name, agreement.updated_at = name[:255], now
        agreement.save()
        events.record(
            "agreement.accepted",
            actor=actor,
            account=account,
            title=agreement.title,
            version=agreement.version,
            account_name=account.name,
            user_name=name,
        )
        _agreement_alerts(account, agreement, now)
    return agreement


# --- Registration -----------------------------------------------------------------------------------


def registration_requested(account, *, onprem_name, email, now=None):
    """A registration file was generated: the On-Prem waits for its Authorization File."""
    _raise(
        account,
        _Cause(
            AUTHORIZATION_PENDING,
            Alert.Type.AUTHORIZATION_PENDING,
            Alert.Severity.MINOR,
            "alert.authorization_pending",
            {"onprem_name": onprem_name, "email": email},
        ),
        now or timezone.now(),
    )


def authorization_ready(account, *, onprem_name, email, now=None):
    """CSSM says the Authorization File of the waiting registration has been generated (the
    registration status check, ``sync.services.registration.check_authorization_files``): SSM
    On-Prem Authorization File Ready replaces Authorization Pending, and its event mails
    ``email``, the address the pending alert promised the mail to."""
    now = now or timezone.now()
    with transaction.atomic():
        _clear(account, AUTHORIZATION_PENDING, "the Authorization File was generated.", now)
        alert = Alert.objects.filter(account=account, key=AUTHORIZATION_READY).live().first()
        if alert is not None:
            return alert
        return _raise(
            account,
            _Cause(
                AUTHORIZATION_READY,
                Alert.Type.AUTHORIZATION_READY,
                Alert.Severity.MINOR,
                "alert.authorization_ready",
                {"onprem_name": onprem_name},
            ),
            now,
            notify=[email] if email else None,
        )


def registered(account, *, now=None):
    """An Authorization was applied: the registration is complete and CSSM holds the On-Prem again."""
    now = now or timezone.now()
    _clear(account, AUTHORIZATION_PENDING, "the Authorization File was applied.", now)
    _clear(account, AUTHORIZATION_READY, "the Authorization File was applied.", now)
    for key in (ONPREM_REMOVED, ONPREM_EXPIRED, SYNC_DEADLINE):
        _clear(account, key, "the On-Prem was registered again.", now)


# --- The synchronization calendar -------------------------------------------------------------------


def sync_calendar(account, last_synced_at, *, onprem_name, now=None):
    """Upcoming SSM On-Prem Sync Deadline (30 Day) from 60 days without a synchronization, SSM
    On-Prem expired and removed (90 Days of no sync) from 90 days; a synchronization clears both.
    Called after each synchronization and by the daily check (which catches up after downtime:
    only the dates count)."""
    now = now or timezone.now()
    days = (now - last_synced_at).days
    deadline = last_synced_at + datetime.timedelta(days=REMOVAL_DAYS)
    params = {"onprem_name": onprem_name, "not_sync_days": _days(days)}
    expired = days >= REMOVAL_DAYS
    upcoming = not expired and days >= REMOVAL_DAYS - DEADLINE_WARNING_DAYS
    reason = "the On-Prem synchronized." if not expired else "the sync deadline passed."
    _set(
        account,
        SYNC_DEADLINE,
        _Cause(
            SYNC_DEADLINE,
            Alert.Type.SYNC_DEADLINE,
            Alert.Severity.MINOR,
            "alert.sync_deadline",
            {**params, "remain_sync_days": _days(REMOVAL_DAYS - days)},
            action_due=deadline,
        )
        if upcoming
        else None,
        reason,
        now,
    )
    _set(
        account,
        ONPREM_EXPIRED,
        _Cause(ONPREM_EXPIRED, Alert.Type.ONPREM_EXPIRED, Alert.Severity.MAJOR, "alert.onprem_expired", params)
        if expired
        else None,
        "the On-Prem synchronized.",
        now,
    )


__all__ = [
    "KEY_PREFIX",
    "apply_cssm_state",
    "apply_authorization_notices",
    "agreement_acceptance",
    "agreement_of",
    "may_accept_agreement",
    "accept_agreement",
    "registration_requested",
    "authorization_ready",
    "registered",
    "sync_calendar",
]
