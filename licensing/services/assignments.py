"""Change Virtual Account Assignment: move or copy the licenses of one subscription to other local
virtual accounts, the guide's way to resolve Duplicate Licenses (the same license from
different subscriptions in one local virtual account).

The form names the local virtual accounts that should hold the subscription's licenses
afterwards: those that hold them now are checked; unchecking one and checking another moves
them, checking more copies them. The bought lines (originals) never leave the ledger: a local
virtual account unchecked hands its originals to a newly checked one (or to one that keeps the
subscription) and loses its copies. A copy repeats the original's licenses and goes with it
(``Entitlement.copied_from``). docs/licensing-workspace.md, "Change Virtual Account Assignment".
"""

from dataclasses import dataclass, field

from django.db import transaction

from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import Entitlement, VirtualAccount
from ..models.licenses import valid_on_q
from . import alert_hooks
from .compliance import today
from .transfers import lock_virtual_accounts

ENABLED, DUPLICATE = "enabled", "duplicate"


@dataclass
class Subscription:
    subscription_id: str
    status: str  # ENABLED (the active entitlement) or DUPLICATE
    quantity: int


@dataclass
class AssignmentResult:
    moved: list = field(default_factory=list)  # (from va name, to va name, count)
    copied: list = field(default_factory=list)  # (to va name, count)
    removed: list = field(default_factory=list)  # (va name, count)


def _lines(account_id, license_id, as_of):
    return Entitlement.objects.filter(
        valid_on_q(as_of), virtual_account__account_id=account_id, license_id=license_id, quantity__gt=0
    ).exclude(subscription_id="")


def subscriptions(virtual_account, license, *, as_of=None):
    """The subscriptions of ``license`` in ``virtual_account``: the first one the local virtual
    account received is Enabled, the others Duplicate (as the Duplicate Licenses alert names them)."""
    as_of = as_of or today()
    out: dict[str, Subscription] = {}
    lines = _lines(virtual_account.account_id, getattr(license, "pk", license), as_of).filter(
        virtual_account=virtual_account
    )
    for sub, quantity in lines.order_by("pk").values_list("subscription_id", "quantity"):
        entry = out.setdefault(sub, Subscription(sub, DUPLICATE if out else ENABLED, 0))
        entry.quantity += quantity
    return list(out.values())


def duplicate_license_ids(virtual_account, *, as_of=None):
    """Ids of the licenses of ``virtual_account`` held from more than one subscription (one query)."""
    as_of = as_of or today()
    seen: dict[int, set[str]] = {}
    for license_id, sub in (
        Entitlement.objects.filter(valid_on_q(as_of), virtual_account=virtual_account, quantity__gt=0)
        .exclude(subscription_id="")
        .values_list("license_id", "subscription_id")
        .distinct()
    ):
        seen.setdefault(license_id, set()).add(sub)
    return {license_id for license_id, subs in seen.items() if len(subs) > 1}


def holders(account_id, license, subscription_id, *, as_of=None):
    """Ids of the local virtual accounts holding licenses of ``license`` from ``subscription_id``."""
    as_of = as_of or today()
    return set(
        _lines(account_id, getattr(license, "pk", license), as_of)
        .filter(subscription_id=subscription_id)
        .values_list("virtual_account_id", flat=True)
    )


def _params(license, subscription_id, count, **names):
    return {"count": count, "tag": license.name, "sub_ref_id": subscription_id, **names}


def change_virtual_account_assignment(
    *, actor, virtual_account, license, subscription_id, virtual_accounts, as_of=None
):
    """Make ``virtual_accounts`` the local virtual accounts that hold ``license`` from
    ``subscription_id`` (a subscription of it in ``virtual_account``); returns an AssignmentResult."""
    as_of = as_of or today()
    va = virtual_account
    chosen = {getattr(v, "pk", v) for v in virtual_accounts}
    if not chosen:
        raise ServiceError("Select at least one local virtual account.", field="virtual_accounts")
    targets = {v.pk: v for v in VirtualAccount.objects.filter(pk__in=chosen, account_id=va.account_id)}
    if set(targets) != chosen:
        raise ServiceError("Select local virtual accounts of this local account.", field="virtual_accounts")
    with transaction.atomic():
        held = holders(va.account_id, license, subscription_id, as_of=as_of)
        if va.pk not in held:
            raise ServiceError(
                "This subscription has no licenses in the local virtual account.", field="subscription_id"
            )
        involved = {v.pk: v for v in VirtualAccount.objects.filter(pk__in=held | chosen)}
        locked = lock_virtual_accounts(*involved.values())
        lines = list(
            _lines(va.account_id, license.pk, as_of)
            .filter(subscription_id=subscription_id)
            .select_for_update()
            .order_by("pk")
        )
        held = {line.virtual_account_id for line in lines}
        # Another change of this subscription (or a transfer of its licenses) may have committed
        # between the first read and the locks: decide on what is locked, or refuse.
        if va.pk not in held:
            raise ServiceError(
                "This subscription has no licenses in the local virtual account (they were moved meanwhile).",
                field="subscription_id",
            )
        if not held <= set(locked):
            raise ServiceError(
                "The licenses of this subscription were moved or copied meanwhile: review them and try again.",
                field="virtual_accounts",
            )
        removed = sorted(held - chosen)
        added = sorted(chosen - held, key=lambda pk: (locked[pk].name.casefold(), pk))
        if not removed and not added:
            raise ServiceError(
                "The licenses are already in exactly these local virtual accounts.", field="virtual_accounts"
            )
        if actor is not None:
            for other in [*removed, *added]:
                if not can(
                    actor,
                    Action.TRANSFER,
                    account=va.account,
                    virtual_account=locked[va.pk],
                    to_virtual_account=locked[other],
                ):
                    raise NotAllowed(
                        f"You are not allowed to move or copy licenses to or from the local virtual account "
                        f"“{locked[other].name}”."
                    )
        result = AssignmentResult()
        kept = sorted(held & chosen)
        for gone in removed:
            mine = [line for line in lines if line.virtual_account_id == gone]
            originals = [line for line in mine if line.copied_from_id is None]
            copies = [line for line in mine if line.copied_from_id is not None]
            if originals:
                dest = added.pop(0) if added else kept[0]
                stale = [line for line in lines if line.virtual_account_id == dest and line.copied_from_id is not None]
                for line in stale:
                    line.delete()
                    lines.remove(line)
                for line in originals:
                    line.virtual_account_id = dest
                    line.save(update_fields=["virtual_account"])
                count = sum(line.quantity for line in originals)
                names = {"old_pool_name": locked[gone].name, "new_pool_name": locked[dest].name}
                events.record(
                    "license.assignment_moved",
                    actor=actor,
                    virtual_account=locked[gone],
                    **_params(license, subscription_id, count, **names),
                )
                events.record(
                    "license.assignment_moved_in",
                    actor=actor,
                    virtual_account=locked[dest],
                    **_params(license, subscription_id, count, **names),
                )
                result.moved.append((locked[gone].name, locked[dest].name, count))
                if dest not in kept:
                    kept.append(dest)
            for line in copies:
                line.delete()
                lines.remove(line)
            if copies:
                count = sum(line.quantity for line in copies)
                events.record(
                    "license.assignment_removed",
                    actor=actor,
                    virtual_account=locked[gone],
                    **_params(license, subscription_id, count, pool_name=locked[gone].name),
                )
                result.removed.append((locked[gone].name, count))
        originals = [line for line in lines if line.copied_from_id is None] or lines
        for dest in added:
            for line in originals:
                line.create_like(line.quantity, virtual_account_id=dest, copied_from_id=line.copied_from_id or line.pk)
            count = sum(line.quantity for line in originals)
            events.record(
                "license.assignment_copied",
                actor=actor,
                virtual_account=locked[dest],
                **_params(
                    license, subscription_id, count, old_pool_name=locked[va.pk].name, new_pool_name=locked[dest].name
                ),
            )
            result.copied.append((locked[dest].name, count))
        alert_hooks.lines_changed(va.account_id, [locked[pk] for pk in sorted(set(locked))])
    return result


__all__ = [
    "ENABLED",
    "DUPLICATE",
    "Subscription",
    "AssignmentResult",
    "subscriptions",
    "duplicate_license_ids",
    "holders",
    "change_virtual_account_assignment",
]
