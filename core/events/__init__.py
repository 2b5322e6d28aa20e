"""The event log: one ``record()`` that every service calls inside its transaction.

Events are append-only rows (``core.models.Event``). Fan-out to syslog and email is
scheduled with ``transaction.on_commit`` so nothing is sent for a change that rolled back;
the Settings widget's syslog/email senders subscribe through ``on_recorded``.
"""

import logging

from django.db import transaction
from django.utils import translation

from core.english import LANGUAGE as ENGLISH
from core.prepared_statements import insert

from .messages import CATALOGUE, render

logger = logging.getLogger(__name__)
_subscribers = []


def on_recorded(callback):
    """Register ``callback(event)`` to run after the transaction that recorded an event commits."""
    _subscribers.append(callback)
    return callback


def record(code, *, actor=None, account=None, virtual_account=None, notify=None, mail=None, severity=None, **params):
    """Append one event of type ``code`` (a key of the catalogue) and return it.

    ``actor`` is the user who acted (None for the system or a device); the message text is
    rendered now from ``params`` so later renames do not rewrite history. ``notify`` names the
    users (or addresses) an email-notified event is about and ``mail`` (a ``core.mail.Content``)
    what its mail says beyond the message (``accounts.notifications``); neither is stored.
    ``severity`` (INFO / WARN / ALERT) replaces the catalogue's for an event whose weight is the
    instance's, not the type's: an alert raised as Major goes to syslog as ALERT, as Minor as WARN
    (``messages.ALERT_SEVERITY``).
    """
    from core.models import Event

    event_type = CATALOGUE[code]
    if account is None and virtual_account is not None:
        account = virtual_account.account
    event = Event(
        event_type=code,
        severity=severity or event_type.severity,
        message=_english_message(code, params),
        account=account,
        virtual_account=virtual_account,
        user=actor if getattr(actor, "pk", None) else None,
        username=getattr(actor, "username", "") or "",
    )
    # What Event.objects.create() writes (the same columns, created_at from auto_now_add), without
    # building the INSERT through the ORM each time and, on PostgreSQL, planned once per connection:
    # every device message records one (docs/performance.md, run 6).
    insert(event, prepare=True)
    event.notify = list(notify or ())
    event.mail = mail
    if _subscribers:
        transaction.on_commit(lambda: _fan_out(event))
    return event


def _english_message(code, params):
    # Messages are stored in English whatever the actor's language: lazy labels among the params
    # (a role, a license type) render in English. A name someone typed can carry NUL, which no
    # PostgreSQL text column stores.
    with translation.override(ENGLISH):
        return render(code, **params).replace("\x00", "\ufffd")


def _fan_out(event):
    # The change is committed and its event stored: a subscriber that fails (syslog host gone,
    # broker down) is logged and must not turn the user's successful change into an error.
    for callback in _subscribers:
        try:
            callback(event)
        except Exception:
            logger.exception("event subscriber %r failed for %s", callback, event.event_type)


__all__ = ["record", "on_recorded", "CATALOGUE"]
