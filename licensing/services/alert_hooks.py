"""Alerts as events happen: a write names what it touched, and the alerts of that recompute once,
when its transaction commits.

Every service function that changes a cause of a write-driven alert (``alerts.WRITE_DRIVEN``)
calls one of the ``*_changed`` functions below with the local account and the virtual accounts
or product instances it touched. The scope is collected per account while the transaction runs
and recomputed once on commit (``transaction.on_commit``): an AUTHORIZE that changes three
licenses costs one small recompute, and a write that rolls back costs none. Which write calls
which hook, and the alerts each one serves: docs/licensing-engine.md, "When alerts are computed".

The write paths and their hooks:

* usage (AUTHORIZE, REPORT_USAGE, a CSLU push, an export decision): ``usage_changed``, from
  ``device_usage.apply_usage``, the one writer of usage rows; only when a count changed;
* contact (every device message, a re-registration): ``contact_changed``, from
  ``device_registration.touch``, only when the instance was on the Failed to Connect / Renew
  ladder (its alert clears, and a Failed to Renew instance's usage counts again);
* product-instance transfer and removal (UI, API, DEREGISTER, a REGISTER that moves it):
  ``product_instances.transfer_product_instance`` / ``remove_product_instance``;
* license lines (license transfers, and reservations when they exist): ``lines_changed``;
* virtual accounts renamed or deleted (the alert texts name them): ``account_changed``;
* a synchronization applies its document and recomputes the whole account in its own transaction
  (``sync.services.synchronization._apply``); Synchronization Required is raised and cleared by
  ``alerts.raise_sync_required`` / ``clear_sync_required`` where the requests are made and decided.

Tokens and tags are no cause of any alert (the texts name licenses and virtual accounts, not
tags), so their changes recompute nothing.
"""

import functools
import logging
import threading
from dataclasses import dataclass, field

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass
class Scope:
    """What a transaction touched in one local account, as the alert recompute needs it.

    ``usage``: virtual accounts whose in-use changed ({id: name, or None when unknown}): their
    Insufficient Licenses. ``lines``: virtual accounts whose license lines changed: their
    Insufficient, Duplicate, Expiring and Expired Licenses. ``product_instances``: instances whose
    contact or virtual account changed: their Failed to Connect / Renew. ``full``: everything.

    A shortage is recomputed for the whole virtual account, not only the licenses touched: tier
    substitution lends one license's surplus to another within the virtual account, so a change
    of one license can open or clear the shortage of another (and the positions of a virtual
    account are one statement whatever the number of licenses).
    """

    usage: dict[int, str | None] = field(default_factory=dict)
    lines: dict[int, str | None] = field(default_factory=dict)
    product_instances: set[int] = field(default_factory=set)
    full: bool = False

    def merge(self, other):
        for mine, theirs in ((self.usage, other.usage), (self.lines, other.lines)):
            for va_id, name in theirs.items():
                mine[va_id] = name or mine.get(va_id)
        self.product_instances |= other.product_instances
        self.full = self.full or other.full
        return self

    @property
    def shortage_vas(self):
        """{va id: name or None} whose positions are recomputed."""
        vas = dict(self.usage)
        for va_id, name in self.lines.items():
            vas[va_id] = name or vas.get(va_id)
        return vas

    def __bool__(self):
        return bool(self.full or self.usage or self.lines or self.product_instances)


_pending = threading.local()


def _scopes():
    scopes = getattr(_pending, "scopes", None)
    if scopes is None:
        scopes = _pending.scopes = {}
    return scopes


def _names(vas):
    """{id: name or None} of virtual accounts given as instances or ids."""
    out: dict[int, str | None] = {}
    for va in vas:
        if va is None:
            continue
        if isinstance(va, int):
            out.setdefault(va, None)
        else:
            out[va.pk] = va.name
    return out


def touched(account_id, scope):
    """Add ``scope`` to what ``account_id``'s alerts recompute when the transaction commits.

    Each call schedules a flush (Django drops the callbacks of a savepoint that rolls back, so
    one scheduled by an earlier call may be gone); the first flush after the commit takes the
    whole collected scope and the others find nothing left. Outside a transaction it runs now.
    """
    if not scope:
        return
    scopes = _scopes()
    if account_id in scopes:
        scopes[account_id].merge(scope)
    else:
        scopes[account_id] = scope
    transaction.on_commit(functools.partial(flush, account_id))


def flush(account_id):
    """Recompute the collected scope of ``account_id`` (the on-commit callback)."""
    scope = _scopes().pop(account_id, None)
    if not scope:
        return
    from . import alerts

    try:
        alerts.recompute_alerts(account_id, scope=scope)
    except Exception:
        # The write is committed; the hourly recompute will find what this one could not write
        # (and say so). Failing the request now would only make the client retry a done write.
        logger.exception("The alerts of local account %s could not be recomputed after a write", account_id)


def pending_scope(account_id):
    """The scope collected for ``account_id`` and not yet recomputed (tests, diagnostics)."""
    return _scopes().get(account_id)


def usage_changed(account_id, virtual_accounts):
    touched(account_id, Scope(usage=_names(virtual_accounts)))


def lines_changed(account_id, virtual_accounts):
    """License lines moved, appeared or went (license transfers; reservations will call it too)."""
    touched(account_id, Scope(lines=_names(virtual_accounts)))


def contact_changed(account_id, product_instance_id, virtual_account=None):
    """A product instance that was on the renewal ladder called in (or moved): its Failed to
    Connect / Renew alert clears, and with ``virtual_account`` its usage counts there again."""
    touched(
        account_id,
        Scope(product_instances={product_instance_id}, usage=_names([virtual_account] if virtual_account else [])),
    )


def account_changed(account_id):
    """Something every alert text may name changed (a virtual account's name): all of it."""
    touched(account_id, Scope(full=True))


__all__ = [
    "Scope",
    "touched",
    "flush",
    "pending_scope",
    "usage_changed",
    "lines_changed",
    "contact_changed",
    "account_changed",
]
