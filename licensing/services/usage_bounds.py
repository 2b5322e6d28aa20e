"""Usage bounds: refuse a device message whose usage no real product instance would report.

A device sets its own usage (AUTHORIZE, REPORT_USAGE over /SmartTransport, a CSLU push), and that
usage counts in its virtual account. ``check`` is called by each of those handlers before they
write anything: a message naming more licenses than ``device_max_licenses_per_message``, or more
of one license than ``device_max_license_count`` (the Security widget's Account tab), is refused
whole with ``IMPLAUSIBLE_USAGE``, so nothing changes (the handler's transaction rolls back; only
the nonce stays spent). Unknown tags count too: the number is implausible whatever the license.

``record_refusal`` (called by the transport after the rollback) records the event, at most once
per local account per hour, so a stream of refused messages does not flood the log.
"""

import datetime

from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from accounts.security_models import SecurityPolicy
from core import events
from core.models import Event

from . import prepared
from .device_errors import IMPLAUSIBLE_USAGE, DeviceError

WINDOW = datetime.timedelta(hours=1)
EVENT = "device.usage_refused"
FIELDS = ("device_max_license_count", "device_max_licenses_per_message")
# Both bounds (the Security widget's policy row, or the defaults while it was never saved), in one
# statement written once: it runs for every AUTHORIZE and usage report that names a license.
_BOUNDS_SQL = """
SELECT COALESCE((SELECT device_max_license_count FROM accounts_securitypolicy WHERE id = 1), %s),
       COALESCE((SELECT device_max_licenses_per_message FROM accounts_securitypolicy WHERE id = 1), %s)
"""


def now():
    """The clock of the event's hourly window (tests move it)."""
    return timezone.now()


class ImplausibleUsage(DeviceError):
    """A message over a usage bound (a FAILED reply, HTTP 200); what ``record_refusal`` names."""

    def __init__(self, message, *, account, virtual_account, identifier):
        super().__init__(IMPLAUSIBLE_USAGE, message)
        self.account, self.virtual_account, self.identifier = account, virtual_account, identifier

    def after_rollback(self, now):
        record_refusal(self)


def _policy_default(name: str) -> int:
    field = SecurityPolicy._meta.get_field(name)
    assert isinstance(field, Field), name  # a column of SecurityPolicy, not a relation
    return field.default


def bounds():
    """(most of one license, most licenses in one message), as the Security widget set them."""
    defaults = [_policy_default(name) for name in FIELDS]
    with connection.cursor() as cursor:
        prepared.execute(cursor, _BOUNDS_SQL, defaults)
        return tuple(cursor.fetchone())


def counts_of(message):
    """{tag: count} of the usage ``message`` sets, as its handler applies it: AUTHORIZE adds up a
    tag named twice; of the usage reports' lines, each tag's highest count."""
    counts: dict[str, int] = {}
    if message.type == "AUTHORIZE":
        for entry in message.fields["entitlements"]:
            counts[entry["tag"]] = counts.get(entry["tag"], 0) + entry["count"]
    elif message.type == "REPORT_USAGE":
        for report in message.fields["reports"]:
            for line in report["usage"]:
                counts[line["tag"]] = max(counts.get(line["tag"], 0), line["count"])
    return counts


def check(message, *, account, virtual_account=None, identifier):
    """Refuse (``ImplausibleUsage``) ``message`` when its usage is over a bound.

    ``account`` / ``virtual_account`` / ``identifier`` name the sender for the event (a CSLU push
    from a device not added yet has no virtual account).
    """
    counts = counts_of(message)
    if not counts:
        return
    max_count, max_licenses = bounds()
    if len(counts) > max_licenses:
        raise ImplausibleUsage(
            f"The message names {len(counts)} licenses; one message may name at most {max_licenses} "
            "(Administration > Security > Account). Nothing was changed.",
            account=account,
            virtual_account=virtual_account,
            identifier=identifier,
        )
    tag, count = max(counts.items(), key=lambda item: item[1])
    if count > max_count:
        raise ImplausibleUsage(
            f"The usage of “{tag}” ({count}) is more than one product instance may report of one license "
            f"({max_count}, Administration > Security > Account). Nothing was changed.",
            account=account,
            virtual_account=virtual_account,
            identifier=identifier,
        )


def record_refusal(error):
    """Record the refusal's event, unless one was recorded for its local account within the hour.

    Called after the refused message was rolled back, in a transaction of its own.
    """
    with transaction.atomic():
        if Event.objects.filter(event_type=EVENT, account=error.account, created_at__gt=now() - WINDOW).exists():
            return None
        return events.record(
            EVENT,
            account=error.account,
            virtual_account=error.virtual_account,
            identifier=error.identifier,
            account_name=error.account.name,
            reason=error.message,
        )


__all__ = ["ImplausibleUsage", "check", "counts_of", "bounds", "record_refusal", "EVENT"]
