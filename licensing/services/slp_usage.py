"""Smart Licensing Using Policy usage on its way to CSSM (Inventory > SL Using Policy).

Every usage (RUM) report CSSM has not acknowledged goes in every synchronization request
(sync.services.synchronization); "Synchronize usage information with CSSM" asks for it now: the
virtual account's reports not yet acknowledged are marked, and the account is due at the next
run of the scheduled synchronization (sync.services.schedule), or they go in the next
request file of a manual synchronization.
"""

from django.db import transaction
from django.utils import timezone

from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import RumReport


def request_usage_sync(*, actor, virtual_account, now=None):
    """Mark the virtual account's usage reports not yet acknowledged by CSSM; returns how many."""
    if actor is not None and not can(
        actor, Action.SYNC_USAGE, account=virtual_account.account, virtual_account=virtual_account
    ):
        raise NotAllowed("You are not allowed to synchronize the usage information of this virtual account.")
    now = now or timezone.now()
    with transaction.atomic():
        count = RumReport.objects.filter(
            product_instance__virtual_account=virtual_account, synced_at__isnull=True
        ).update(sync_requested_at=now)
        if not count:
            raise ServiceError(
                "There is no usage information to synchronize: Cisco Smart Software Manager acknowledged "
                "every usage report of this local virtual account."
            )
        events.record(
            "pi.usage_sync_requested",
            actor=actor,
            virtual_account=virtual_account,
            user_name=getattr(actor, "username", "") or "system",
            pool_name=virtual_account.name,
            count=count,
        )
    return count


__all__ = ["request_usage_sync"]
