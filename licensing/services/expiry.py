"""Expiry of license lines: "Licenses are removed from local Virtual Accounts as they expire."

The compliance computation already leaves a line out of the pool the day after its end date
(``valid_on_q``); nothing has to run for balances to be right. ``expire_entitlements`` is the
daily job that tells people: it records the guide's "Licenses Expired" event once per expired
line and marks the line (``expired_at``) so a second run records nothing new.
"""

from django.db import transaction
from django.utils import timezone

from core import events

from ..models import Entitlement
from .compliance import today


def expire_entitlements(as_of=None):
    """Record the expiry of every line whose end date is before ``as_of``; returns the lines expired now."""
    as_of = as_of or today()
    expired = []
    due = (
        Entitlement.objects.filter(end_date__lt=as_of, expired_at__isnull=True, quantity__gt=0)
        .select_related("license", "virtual_account__account")
        .order_by("end_date", "pk")
    )
    for line in due:
        with transaction.atomic():
            # The conditional UPDATE makes the event once-only even when two runs overlap.
            now = timezone.now()
            if not Entitlement.objects.filter(pk=line.pk, expired_at__isnull=True).update(expired_at=now):
                continue
            line.expired_at = now
            events.record(_event_code(line), virtual_account=line.virtual_account, **_event_params(line))
        expired.append(line)
    return expired


def _event_code(line):
    code = "license.expired_subscription" if line.subscription_id else "license.expired"
    return f"{code}_one" if line.quantity == 1 else code


def _event_params(line):
    params = {
        "count": line.quantity,
        "tag": line.license.name,
        "type": line.license_type,
        "pool_name": line.virtual_account.name,
        "end_date": line.end_date.isoformat(),
    }
    if line.subscription_id:
        params["sub_ref_id"] = line.subscription_id
    return params
