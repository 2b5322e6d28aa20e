"""Registration limits: how many new product instances a registration token and a
virtual account may add per hour, so a leaked token cannot mint unbounded product instances.
A CSLU push that adds a product instance counts too (``device_slp.push``): against its virtual
account's limit, and its token's when it carries one.

The limits are the Security widget's (``SecurityPolicy.registration_limit_per_token`` and
``registration_limit_per_va``, 0 = unlimited). The REGISTER handler calls ``precheck`` (no lock)
before it creates a new product instance, so a device already over a limit is refused before any
work, and ``check`` at the end of its transaction, after the instance and its identity were
written: ``check`` locks the virtual account's row, so new instances of one VA count one after
the other, and the lock is held only from there to the commit (limits and counts are one query).
A refusal rolls the new instance back. Re-registering a known UDI never gets here. A refused
device gets HTTP 429 with ``Retry-After`` (``RegistrationLimited``); ``record_refusal`` then opens
the account's "Registration Limit Reached" alert and records its event, once per hour per token /
VA, so a storm of refused devices does not flood the log.
"""

import datetime
import math

from django.db import connection
from django.db.models import Field

from accounts.security_models import SecurityPolicy

from ..models import Alert, DeviceIdentity
from . import alerts, prepared
from .device_errors import DeviceError

WINDOW = datetime.timedelta(hours=1)
RATE_LIMITED = "RATE_LIMITED"
KEY_PREFIX = "registration_limited:"
FIELDS = ("registration_limit_per_token", "registration_limit_per_va")


class RegistrationLimited(DeviceError):
    """A new product instance over a limit: HTTP 429, retry after ``retry_after`` seconds.

    ``token`` is None for a CSLU push without one; ``virtual_account`` defaults to the token's.
    """

    def __init__(self, *, scope, token, limit, retry_after, virtual_account=None):
        self.scope, self.token, self.limit, self.retry_after = scope, token, limit, retry_after
        self.virtual_account = virtual_account or token.virtual_account
        what = "registration token" if scope == "token" else "virtual account"
        super().__init__(
            RATE_LIMITED,
            f"Too many new product instances for this {what} within an hour "
            f"(limit {limit}). Retry after {retry_after} seconds.",
        )

    def after_rollback(self, now):
        record_refusal(self, now)


# Both limits (the Security widget's policy row, or the defaults while it was never saved) and
# both counts of the last hour, in one statement written once (it runs twice per registration).
# A count is only taken when its limit is on (CASE does not evaluate the branch it does not take):
# with the limits off, as for a planned mass roll-out, no index is walked at all. Every instance
# created with a token was created in its virtual account (a token never moves), so both counts
# walk the (token, created_at) / (virtual account, created_at) indexes.
_STATE_SQL = """
SELECT per_token, per_va,
       CASE WHEN per_token > 0 THEN (SELECT COUNT(*) FROM licensing_deviceidentity
                                     WHERE created_with_token_id = %s AND created_at > %s) ELSE 0 END,
       CASE WHEN per_va > 0 THEN (SELECT COUNT(*) FROM licensing_deviceidentity
                                  WHERE created_in_virtual_account_id = %s AND created_at > %s) ELSE 0 END
FROM (SELECT COALESCE((SELECT registration_limit_per_token FROM accounts_securitypolicy WHERE id = 1), %s)
                 AS per_token,
             COALESCE((SELECT registration_limit_per_va FROM accounts_securitypolicy WHERE id = 1), %s)
                 AS per_va) policy
"""
_LOCK_VA_SQL = "SELECT id FROM licensing_virtualaccount WHERE id = %s FOR NO KEY UPDATE"


def _policy_default(name: str) -> int:
    field = SecurityPolicy._meta.get_field(name)
    assert isinstance(field, Field), name  # a column of SecurityPolicy, not a relation
    return field.default


def _state(token, va_id, now, *, lock):
    """One query: both limits and both counts of the last hour (after locking the VA's row when ``lock``).

    A count is 0 when its limit is off (0 = unlimited): nothing compares it then; the token's count
    is 0 without a token (no row has a NULL ``created_with_token_id`` equal to it).
    """
    if lock and connection.features.has_select_for_update:
        # Its own statement, before the counts: under READ COMMITTED a statement that waited for a
        # lock still reads with the snapshot it started with, so a count in it could be stale.
        # (SQLite has no row locks and needs none: it has one writer at a time.)
        # FOR NO KEY UPDATE, not FOR UPDATE: the new product instance and identity of every racing
        # registration reference this row, and PostgreSQL checks those (deferred) foreign keys at
        # COMMIT with FOR KEY SHARE, which FOR UPDATE blocks and FOR NO KEY UPDATE does not: with
        # FOR UPDATE two committing registrations (or one and a refusal's alert) deadlock.
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_VA_SQL, [va_id])
    since = connection.ops.adapt_datetimefield_value(now - WINDOW)
    defaults = [_policy_default(name) for name in FIELDS]
    with connection.cursor() as cursor:
        prepared.execute(cursor, _STATE_SQL, [getattr(token, "pk", None), since, va_id, since, *defaults])
        per_token, per_va, token_count, va_count = cursor.fetchone()
    return {
        "registration_limit_per_token": per_token,
        "registration_limit_per_va": per_va,
        "token_count": token_count,
        "va_count": va_count,
    }


def _retry_after(created, count, limit, now):
    """Seconds until ``created`` (``count`` instances in the window) is under ``limit`` again."""
    # Under the limit again once this many of the oldest have left the window: the last of them decides.
    oldest = (
        created.filter(created_at__gt=now - WINDOW)
        .order_by("created_at")
        .values_list("created_at", flat=True)[count - limit]
    )
    return max(1, math.ceil((oldest + WINDOW - now).total_seconds()))


def _refuse_over(token, va, state, now, already_counted):
    """Raise ``RegistrationLimited`` when one more new instance is over a limit; ``already_counted``
    is 1 when the counts include the new instance (created earlier in this transaction)."""
    per_token, per_va = state["registration_limit_per_token"], state["registration_limit_per_va"]
    token_count, va_count = state["token_count"] - already_counted, state["va_count"] - already_counted
    if token is not None and per_token and token_count >= per_token:
        wait = _retry_after(DeviceIdentity.objects.filter(created_with_token=token), token_count, per_token, now)
        raise RegistrationLimited(scope="token", token=token, limit=per_token, retry_after=wait, virtual_account=va)
    if per_va and va_count >= per_va:
        wait = _retry_after(DeviceIdentity.objects.filter(created_in_virtual_account_id=va.pk), va_count, per_va, now)
        raise RegistrationLimited(scope="va", token=token, limit=per_va, retry_after=wait, virtual_account=va)


def precheck(token, now, *, virtual_account=None):
    """Refuse early, without locking, a new product instance that is already over a limit.

    Spares a device that will be refused (a leaked token hammering the server, say) the work of
    a registration; ``check`` decides, at the end of the transaction. ``token`` may be None (a
    CSLU push without one): then only ``virtual_account``'s limit applies.
    """
    va = virtual_account or token.virtual_account
    _refuse_over(token, va, _state(token, va.pk, now, lock=False), now, already_counted=0)


def check(token, now, *, virtual_account=None):
    """Refuse (``RegistrationLimited``) the new product instance that this transaction created.

    Locks the virtual account's row, so new instances of one virtual account (whatever their
    token, or none) count one after the other; the REGISTER and CSLU push handlers call it at the
    end of the transaction, after the instance and its identity were written, so the lock is held
    briefly. The counts include that new identity (``created_at`` = now).
    """
    va = virtual_account or token.virtual_account
    _refuse_over(token, va, _state(token, va.pk, now, lock=True), now, already_counted=1)


def token_name(token):
    """How events name a token: its description, else the start of the token string (not all of it)."""
    return token.description or f"{token.token[:12]}…"


def record_refusal(error, now):
    """Open (or re-open) the alert and record the event, at most once per hour per token / VA.

    Called after the refused registration was rolled back, in a transaction of its own.
    """
    token, va = error.token, error.virtual_account
    account = va.account
    if error.scope == "token":
        key, code = f"{KEY_PREFIX}token:{token.pk}", "device.registration_limited_token"
        params = {"token_name": token_name(token), "pool_name": va.name, "limit": error.limit}
    else:
        key, code = f"{KEY_PREFIX}va:{va.pk}", "device.registration_limited_va"
        params = {"pool_name": va.name, "limit": error.limit}
    return alerts.raise_refusal_alert(
        account,
        key=key,
        alert_type=Alert.Type.REGISTRATION_LIMITED,
        virtual_account=va,
        code=code,
        params=params,
        now=now,
        quiet_for=WINDOW,
    )


__all__ = ["RegistrationLimited", "RATE_LIMITED", "WINDOW", "precheck", "check", "record_refusal"]
