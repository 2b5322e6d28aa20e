"""Changing the synchronization settings: the schedule, global and per-account data privacy,
disabling scheduled synchronization of one account. Every change is checked first (a refused
one writes nothing) and recorded in the event log."""

from django.db import transaction
from django.utils import translation

from core import events
from core.errors import ServiceError

from ..models import AccountSync, SyncSettings
from .common import actor_name, require_sync_admin, state_of, sync_settings

PRIVACY_FIELDS = ("privacy_hostname", "privacy_ip_address", "privacy_mac_address")
PRIVACY_LABELS = {
    "privacy_hostname": "Hostname",
    "privacy_ip_address": "IP Address",
    "privacy_mac_address": "MAC Address",
}


def _privacy_summary(values):
    excluded = [PRIVACY_LABELS[f] for f in PRIVACY_FIELDS if values.get(f)]
    return "data privacy excludes " + (", ".join(excluded) if excluded else "nothing")


def _int_in(values, field, low, high, label):
    value = values.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ServiceError(f"{label} must be a whole number from {low} to {high}.", field=field)


@transaction.atomic
def update_schedule(*, actor, scheduled_enabled, frequency, hour, minute, day_of_week=0, day_of_month=1):
    require_sync_admin(actor)
    values = {
        "scheduled_enabled": bool(scheduled_enabled),
        "frequency": frequency,
        "hour": hour,
        "minute": minute,
        "day_of_week": day_of_week,
        "day_of_month": day_of_month,
    }
    if frequency not in SyncSettings.Frequency.values:
        raise ServiceError("Choose the frequency: Daily, Weekly or Monthly.", field="frequency")
    _int_in(values, "hour", 0, 23, "The hour")
    _int_in(values, "minute", 0, 59, "The minutes")
    _int_in(values, "day_of_week", 0, 6, "The day of the week")
    _int_in(values, "day_of_month", 1, 31, "The day of the month")
    config = sync_settings()
    for field, value in values.items():
        setattr(config, field, value)
    config.save()
    if config.scheduled_enabled and config.frequency != SyncSettings.Frequency.DEFAULT:
        with translation.override("en"):  # the event log stores English (docs/i18n.md)
            frequency = str(config.get_frequency_display()).lower()
        summary = f"scheduled synchronization {frequency} at {hour:02d}:{minute:02d} UTC"
    else:
        summary = "scheduled synchronization every 30 days after the last synchronization"
    events.record("sync.settings_changed", actor=actor, user_name=actor_name(actor), summary=summary)
    return config


@transaction.atomic
def update_global_privacy(*, actor, **values):
    require_sync_admin(actor)
    config = sync_settings()
    for field in PRIVACY_FIELDS:
        setattr(config, field, bool(values.get(field)))
    config.save()
    events.record(
        "sync.settings_changed", actor=actor, user_name=actor_name(actor), summary="global " + _privacy_summary(values)
    )
    return config


def _registered_state(account):
    state = state_of(account)
    if state is None:
        raise ServiceError(
            f"The local account “{account.name}” has not been registered with Cisco Smart Software Manager."
        )
    return AccountSync.objects.select_for_update().get(pk=state.pk)


@transaction.atomic
def update_account_privacy(*, actor, account, override, **values):
    """Actions > Data Privacy…: the account's own settings (``override`` False: the global ones apply)."""
    require_sync_admin(actor)
    state = _registered_state(account)
    state.privacy_override = bool(override)
    for field in PRIVACY_FIELDS:
        setattr(state, field, bool(values.get(field)) if override else False)
    state.save(update_fields=["privacy_override", *PRIVACY_FIELDS])
    summary = _privacy_summary(values) if override else "the global data privacy settings apply"
    events.record(
        "sync.account_settings_changed",
        actor=actor,
        account=account,
        account_name=account.name,
        user_name=actor_name(actor),
        summary=summary,
    )
    return state


@transaction.atomic
def set_scheduled_sync(*, actor, account, enabled):
    """ "Disable Scheduled Synchronization" (and enable it again) for one account."""
    require_sync_admin(actor)
    state = _registered_state(account)
    state.sync_disabled = not enabled
    state.save(update_fields=["sync_disabled"])
    events.record(
        "sync.account_settings_changed",
        actor=actor,
        account=account,
        account_name=account.name,
        user_name=actor_name(actor),
        summary="scheduled synchronization " + ("enabled" if enabled else "disabled"),
    )
    return state
