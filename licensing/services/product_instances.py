"""Product instances: transfer between local virtual accounts, remove, and the renewal ladder.

Transfer (guide, "About Product Instance (PI) Transfer"): the product instance moves with its
usage (its in-use quantity now counts in the destination, which may leave the destination Out
Of Compliance: the result lists those licenses, the guide's "License Shortage" warning). The
purchased quantity of non-restricted licenses stays behind. For export-restricted licenses the
purchased quantity the instance uses moves with it ("the available (Purchased Qty) licenses go
with the PI transfer"), longest term first, so the destination never goes out of compliance.

Reserved licenses move with the instance ("all the reserved licenses for that Product Instance
will move to the destination local Virtual Account"): the lines of each reserved term go along
(``reservations.move_reservations``).

Renewal ladder (guide, "Alert Actions" note): a product instance that has not contacted the
server for 30 days gets a Minor "Failed to Connect" alert, another Minor one at 60 days, and
after 90 days the Major "Failed to Renew": its licenses are released.
"""

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Sum

from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import Entitlement, LicenseReservation, LicenseUsage, ProductInstance
from ..models.licenses import valid_on_q
from . import alert_hooks
from .compliance import OUT_OF_COMPLIANCE, RENEWAL_PERIOD_DAYS, today, virtual_account_positions
from .reservations import move_reservations
from .transfers import LONGEST_TERM_FIRST, lock_virtual_accounts, move_lines, order_lines, record_transfer_events

OK, FAILED_TO_CONNECT, FAILED_TO_RENEW = "ok", "failed_to_connect", "failed_to_renew"
CONNECT_WARNING_DAYS = (30, 60)  # Minor alerts


@dataclass(frozen=True)
class RenewalState:
    state: str  # OK, FAILED_TO_CONNECT or FAILED_TO_RENEW
    days_silent: int
    stage: int = 0  # 30 or 60 for FAILED_TO_CONNECT, 90 for FAILED_TO_RENEW
    days_left: int = 0  # days until Failed to Renew (FAILED_TO_CONNECT only)
    deadline: datetime.datetime | None = None


def renewal_state(pi, now):
    """Where ``pi`` stands on the Failed to Connect / Failed to Renew ladder at ``now`` (pure)."""
    last = pi.last_contact_at or pi.registered_at
    days = (now - last).days
    deadline = last + datetime.timedelta(days=RENEWAL_PERIOD_DAYS)
    if days >= RENEWAL_PERIOD_DAYS:
        return RenewalState(FAILED_TO_RENEW, days, stage=RENEWAL_PERIOD_DAYS, deadline=deadline)
    stage = max((d for d in CONNECT_WARNING_DAYS if days >= d), default=0)
    if not stage:
        return RenewalState(OK, max(days, 0), deadline=deadline)
    return RenewalState(FAILED_TO_CONNECT, days, stage=stage, days_left=RENEWAL_PERIOD_DAYS - days, deadline=deadline)


@dataclass
class PiTransferResult:
    product_instance: ProductInstance
    # (license name, quantity) of export-restricted purchased quantity that moved with it
    restricted_moved: list
    # names of licenses the destination is Out Of Compliance for after the transfer
    shortages: list


def transfer_product_instance(*, actor, pi, to_va, as_of=None):
    """Move ``pi`` to ``to_va`` (same local account); returns a PiTransferResult."""
    as_of = as_of or today()
    from_va = pi.virtual_account
    if from_va.account_id != to_va.account_id:
        raise ServiceError(
            "A product instance can only be transferred to a virtual account of its own local account.",
            field="to_virtual_account",
        )
    if from_va.pk == to_va.pk:
        raise ServiceError("The product instance is already in this virtual account.", field="to_virtual_account")
    if actor is not None and not can(
        actor, Action.TRANSFER, account=from_va.account, virtual_account=from_va, to_virtual_account=to_va
    ):
        raise NotAllowed("You are not allowed to transfer product instances between these virtual accounts.")
    with transaction.atomic():
        locked = lock_virtual_accounts(from_va, to_va)
        from_va, to_va = locked[from_va.pk], locked[to_va.pk]
        pi = ProductInstance.objects.select_for_update().get(pk=pi.pk)
        if pi.virtual_account_id != from_va.pk:
            raise ServiceError("The product instance moved meanwhile; reload and try again.")
        restricted_moved, moves = [], []
        usages = (
            LicenseUsage.objects.filter(product_instance=pi, license__export_restricted=True)
            .select_related("license")
            .order_by("license__name", "license_id")
        )
        for usage in usages:
            lines = (
                Entitlement.objects.select_for_update()
                .filter(valid_on_q(as_of), virtual_account=from_va, license_id=usage.license_id, quantity__gt=0)
                .order_by("pk")
            )
            lines = order_lines(lines, LONGEST_TERM_FIRST)
            quantity = min(usage.count, sum(line.quantity for line in lines))
            if quantity:
                moves += move_lines(lines, quantity, to_va)
                restricted_moved.append((usage.license.name, quantity))
        # "all the reserved licenses for that Product Instance will move to the destination".
        moves += move_reservations(actor=actor, pi=pi, from_va=from_va, to_va=to_va, as_of=as_of)
        pi.virtual_account = to_va
        pi.save(update_fields=["virtual_account"])
        if moves:
            record_transfer_events(actor, moves, from_va, to_va)
        params = {"identifier": pi.display_name, "old_pool_name": from_va.name, "new_pool_name": to_va.name}
        events.record("pi.transferred", actor=actor, virtual_account=from_va, **params)
        events.record("pi.transferred_in", actor=actor, virtual_account=to_va, **params)
        # Both virtual accounts' shortages (and lines, when restricted ones moved), and the
        # instance's renewal alert, whose text names its virtual account.
        alert_hooks.touched(
            pi.account_id,
            alert_hooks.Scope(
                usage={from_va.pk: from_va.name, to_va.pk: to_va.name},
                lines={from_va.pk: from_va.name, to_va.pk: to_va.name} if moves else {},
                product_instances={pi.pk},
            ),
        )
        used = set(LicenseUsage.objects.filter(product_instance=pi).values_list("license_id", flat=True))
        shortages = [
            p.license
            for p in virtual_account_positions(to_va, as_of=as_of)
            if p.license_id in used and p.status == OUT_OF_COMPLIANCE
        ]
    return PiTransferResult(product_instance=pi, restricted_moved=restricted_moved, shortages=shortages)


def remove_product_instance(*, actor, pi, now=None):
    """ "Remove Instance": delete the product instance and release the licenses it uses."""
    if actor is not None and not can(
        actor, Action.REMOVE_PRODUCT_INSTANCES, account=pi.virtual_account.account, virtual_account=pi.virtual_account
    ):
        raise NotAllowed("You are not allowed to remove product instances of this virtual account.")
    from django.utils import timezone

    from ..models import Alert

    now = now or timezone.now()
    with transaction.atomic():
        pi = ProductInstance.objects.select_for_update().select_related("virtual_account__account").get(pk=pi.pk)
        va, identifier = pi.virtual_account, pi.display_name
        Alert.objects.live().filter(product_instance=pi).update(
            status=Alert.Status.CLEARED, cleared_at=now, updated_at=now
        )
        reserved = list(
            LicenseReservation.objects.filter(product_instance=pi)
            .values_list("license__name")
            .annotate(n=Sum("quantity"))
            .order_by("license__name")
        )
        pi.delete()  # its usage and reservation rows go with it (CASCADE): the licenses are released
        alert_hooks.usage_changed(va.account_id, [va])
        events.record("pi.removed", actor=actor, virtual_account=va, identifier=identifier)
        for name, count in reserved:
            events.record(
                "reservation.returned",
                actor=actor,
                virtual_account=va,
                identifier=identifier,
                pool_name=va.name,
                count=count,
                tag=name,
            )


__all__ = [
    "renewal_state",
    "RenewalState",
    "transfer_product_instance",
    "remove_product_instance",
    "PiTransferResult",
    "OK",
    "FAILED_TO_CONNECT",
    "FAILED_TO_RENEW",
]
