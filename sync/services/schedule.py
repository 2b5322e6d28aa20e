"""When is an account due for a scheduled synchronization (the Schedules tab).

* Default (scheduled synchronization Off, or no frequency chosen): "all accounts are
  synchronized every 30 days from the completion of their last sync".
* Daily / Weekly / Monthly at a time of day (UTC): due once the latest slot has passed and
  neither a synchronization nor a scheduled attempt happened since that slot.

A failed attempt is not retried before the next slot (or, for the default cycle, a day later),
so an unreachable CSSM does not fill the event log.

"Synchronize usage information with CSSM" (Inventory > SL Using Policy) makes an account due at
the next run of the scheduled task: once per click, whether that attempt succeeds or not.
"""

import calendar
import datetime

from django.db.models import Max
from django.utils import timezone

from licensing.models import LocalAccount, RumReport

from ..models import AccountSync, SyncSettings

DEFAULT_CYCLE = datetime.timedelta(days=30)
RETRY_AFTER = datetime.timedelta(days=1)


def latest_slot(config, now):
    """The most recent scheduled time at or before ``now`` (None for the default cycle)."""
    if not config.scheduled_enabled or config.frequency == SyncSettings.Frequency.DEFAULT:
        return None
    at = now.replace(hour=config.hour, minute=config.minute, second=0, microsecond=0)
    if config.frequency == SyncSettings.Frequency.DAILY:
        return at if at <= now else at - datetime.timedelta(days=1)
    if config.frequency == SyncSettings.Frequency.WEEKLY:
        at -= datetime.timedelta(days=(at.weekday() - config.day_of_week) % 7)
        return at if at <= now else at - datetime.timedelta(days=7)
    year, month = now.year, now.month
    for _ in range(2):
        day = min(config.day_of_month, calendar.monthrange(year, month)[1])
        candidate = at.replace(year=year, month=month, day=day)
        if candidate <= now:
            return candidate
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return None


def next_slot(config, now):
    if not config.scheduled_enabled or config.frequency == SyncSettings.Frequency.DEFAULT:
        return None
    step = {SyncSettings.Frequency.DAILY: 1, SyncSettings.Frequency.WEEKLY: 7}.get(config.frequency)
    if step:
        return latest_slot(config, now) + datetime.timedelta(days=step)
    probe = now
    for _ in range(3):
        probe = (probe.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
        candidate = latest_slot(config, probe.replace(day=28, hour=23, minute=59))
        if candidate and candidate > now:
            return candidate
    return None


def due_at(state, config, now=None):
    """The "Synchronization Due Date" of an account."""
    now = now or timezone.now()
    base = state.last_sync_at or state.registered_at
    default_due = base + DEFAULT_CYCLE if base else None
    slot = next_slot(config, now)
    if slot is None:
        return default_due
    if latest_slot(config, now) and (state.last_sync_at is None or state.last_sync_at < latest_slot(config, now)):
        return latest_slot(config, now)
    return min(slot, default_due) if default_due else slot


def is_due(state, config, now):
    if state.sync_disabled or not state.is_registered:
        return False
    if state.last_attempt_at and now - state.last_attempt_at < datetime.timedelta(minutes=1):
        return False
    slot = latest_slot(config, now)
    if slot is not None:
        synced_since = state.last_sync_at and state.last_sync_at >= slot
        tried_since = state.last_attempt_at and state.last_attempt_at >= slot
        if not synced_since and not tried_since:
            return True
    base = state.last_sync_at or state.registered_at
    if base and now - base >= DEFAULT_CYCLE:
        return not (state.last_attempt_at and now - state.last_attempt_at < RETRY_AFTER)
    return False


def usage_sync_requested(state, requested_at, now):
    """Whether the account's usage reports were asked for (at ``requested_at``) since its last attempt."""
    if requested_at is None or state.sync_disabled or not state.is_registered:
        return False
    if state.last_attempt_at and now - state.last_attempt_at < datetime.timedelta(minutes=1):
        return False
    last = max(filter(None, (state.last_attempt_at, state.last_sync_at)), default=None)
    return last is None or requested_at > last


def due_states(config, now=None):
    now = now or timezone.now()
    states = AccountSync.objects.filter(
        account__status=LocalAccount.Status.ACTIVE, sync_disabled=False, registered_at__isnull=False
    ).select_related("account")
    # One query: the latest "Synchronize usage information" of each account with reports CSSM lacks.
    requested = dict(
        RumReport.objects.filter(synced_at__isnull=True, sync_requested_at__isnull=False)
        .values("account_id")
        .annotate(latest=Max("sync_requested_at"))
        .values_list("account_id", "latest")
    )
    return [
        state
        for state in states
        if is_due(state, config, now) or usage_sync_requested(state, requested.get(state.account_id), now)
    ]
