"""Smart Licensing > Preferences: a user's own preferences on a local account, with a change log.

One preference exists in the guide: "Show License Transaction Details in Inventory Tab",
Disabled (the default) or Enabled. When Enabled, the Licenses tab offers the "Show License
Transactions" check box, which shows the transaction detail level and the Advanced Search.
Preferences are the user's own (docs/rbac.md, ``set_preferences``): every role that sees the account
may set them, and they change only that user's view.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import PreferenceChange, UserPreference

NOTE_MAX = 500


@dataclass(frozen=True)
class Preference:
    field: str
    label: str  # the guide's name, also the change log's "Type of Event"
    choices: tuple  # ((value, label), ...), the stored value first


ENABLED, DISABLED = "Enabled", "Disabled"
PREFERENCES = {
    "license_transaction_details": Preference(
        "license_transaction_details",
        "Show License Transaction Details in Inventory Tab",
        ((False, DISABLED), (True, ENABLED)),
    ),
}


def _label(preference, value):
    return dict(preference.choices)[value]


def preferences_of(user, account):
    """The user's preferences on ``account`` (an unsaved row with the defaults when never set)."""
    if not getattr(user, "pk", None):
        return UserPreference(account=account)
    return UserPreference.objects.filter(account=account, user=user).first() or UserPreference(
        account=account, user=user
    )


def transaction_details_enabled(user, account):
    return preferences_of(user, account).license_transaction_details


def set_preference(*, actor, account, name, value, note="", now=None):
    """Set one preference of ``actor`` on ``account``; logs the change (who, when, old -> new, note).

    Returns the ``PreferenceChange`` row, or None when the value was already set (no log line).
    """
    preference = PREFERENCES.get(name)
    if preference is None:
        raise ServiceError(f"There is no preference “{name}”.", field="name")
    if value not in dict(preference.choices):
        raise ServiceError(f"Choose {' or '.join(label for _, label in preference.choices)}.", field="value")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ServiceError(f"Notes can have at most {NOTE_MAX} characters.", field="note")
    if not getattr(actor, "pk", None):
        raise NotAllowed("Preferences belong to a signed-in user.")
    if not can(actor, Action.SET_PREFERENCES, account=account):
        raise NotAllowed("You are not allowed to set preferences on this account.")
    now = now or timezone.now()
    with transaction.atomic():
        row, _ = UserPreference.objects.select_for_update().get_or_create(account=account, user=actor)
        old = getattr(row, preference.field)
        if old == value:
            return None
        setattr(row, preference.field, value)
        row.save(update_fields=[preference.field, "updated_at"])
        change = PreferenceChange.objects.create(
            account=account,
            user=actor,
            username=actor.username,
            preference=preference.label,
            old_value=_label(preference, old),
            new_value=_label(preference, value),
            note=note,
            changed_at=now,
        )
        events.record(
            "preferences.changed",
            actor=actor,
            account=account,
            preference=preference.label,
            user_name=actor.username,
            old_value=change.old_value,
            new_value=change.new_value,
        )
    return change


ALERT_VIEW_FIELDS = ("alerts_show_major", "alerts_show_minor", "alerts_hidden")


def set_alert_view(*, actor, account, **values):
    """The Alerts tab's virtual account view of ``actor`` on ``account``: ``alerts_show_major``,
    ``alerts_show_minor`` (the toggle buttons) and ``alerts_hidden`` ("Hide Alerts").

    How one user looks at the tab, like a sort order: not the guide's Preferences, so neither the
    change log nor the event log records it. Returns the saved row.
    """
    unknown = set(values) - set(ALERT_VIEW_FIELDS)
    if unknown:
        raise ServiceError(f"There is no alert view setting “{sorted(unknown)[0]}”.")
    if not getattr(actor, "pk", None):
        raise NotAllowed("Preferences belong to a signed-in user.")
    if not can(actor, Action.VIEW_ACCOUNT, account=account):
        raise NotAllowed("You are not allowed to view this account.")
    with transaction.atomic():
        row, _ = UserPreference.objects.select_for_update().get_or_create(account=account, user=actor)
        changed = [name for name, value in values.items() if getattr(row, name) != bool(value)]
        for name in changed:
            setattr(row, name, bool(values[name]))
        if changed:
            row.save(update_fields=[*changed, "updated_at"])
    return row


def change_log(user, account):
    """The user's preference changes on ``account``, newest first (a queryset for a Listing)."""
    return PreferenceChange.objects.filter(account=account, user=user)


__all__ = [
    "PREFERENCES",
    "preferences_of",
    "transaction_details_enabled",
    "set_preference",
    "change_log",
    "set_alert_view",
    "ALERT_VIEW_FIELDS",
]
