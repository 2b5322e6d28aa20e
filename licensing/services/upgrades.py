"""Upgrade licenses ("Upgrade Pending"): licenses bought on CSSM as an upgrade of licenses the
local account holds, that become available once the licenses they replace are named.

An upgrade arrives through the synchronization as a line of the Default local virtual account
with ``quantity`` 0 and its licenses in ``pending_quantity`` (the Licenses tab's "10 (+5
pending)"), ``upgrade_id`` (CSSM's id) and ``upgrade_from`` (the license it replaces).
``complete_upgrade`` names the replaced licenses: as many licenses of ``upgrade_from`` as the
upgrade holds, taken from lines of one local virtual account (the "Upgrade Virtual Account":
the upgrade moves there); they leave the ledger and the upgrade's licenses become its quantity.
The next synchronization tells CSSM (``UpgradeCompletion``). docs/licensing-workspace.md,
"Upgrade Pending".
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import Entitlement, UpgradeCompletion, VirtualAccount
from ..models.licenses import valid_on_q
from . import alert_hooks
from .compliance import today
from .transfers import lock_virtual_accounts


@dataclass
class UpgradeResult:
    upgrade: Entitlement
    virtual_account: VirtualAccount
    replaced: list  # (line id, quantity replaced)


def pending_upgrades(virtual_account):
    """The upgrade lines of ``virtual_account`` still pending."""
    return (
        Entitlement.objects.filter(virtual_account=virtual_account, pending_quantity__gt=0)
        .exclude(upgrade_id="")
        .select_related("license", "upgrade_from")
        .order_by("license__name", "pk")
    )


def replaceable_lines(upgrade, virtual_accounts, *, as_of=None):
    """The lines an upgrade may replace, in the given local virtual accounts: valid lines of the
    license it upgrades, bought ones (not copies made by Change Virtual Account Assignment, nor
    lines a System Admin added by hand: CSSM, whose upgrade it is, does not hold those)."""
    as_of = as_of or today()
    return (
        Entitlement.objects.filter(
            valid_on_q(as_of),
            license_id=upgrade.upgrade_from_id,
            virtual_account__in=virtual_accounts,
            quantity__gt=0,
            copied_from__isnull=True,
        )
        .exclude(source=Entitlement.Source.MANUAL)
        .select_related("virtual_account", "license")
        .order_by("virtual_account__name", "end_date", "pk")
    )


def _quantities(replacements):
    """{line id: quantity} from what the form or a caller gives (zero entries dropped)."""
    out = {}
    for key, value in (replacements or {}).items():
        try:
            line_id = int(key)
            if isinstance(value, bool):
                raise ValueError
            quantity = int(str(value).strip() or 0) if not isinstance(value, int) else value
        except (TypeError, ValueError):
            raise ServiceError("Quantities must be whole numbers.", field="replacements") from None
        if quantity < 0:
            raise ServiceError("Quantities must be whole numbers of at least 0.", field="replacements")
        if quantity:
            out[line_id] = quantity
    return out


def complete_upgrade(*, actor, upgrade, replacements, as_of=None):
    """Complete the pending upgrade line ``upgrade`` by replacing ``replacements`` ({line id:
    quantity}) of its ``upgrade_from`` license; returns an UpgradeResult.

    The quantities must add up to the upgrade's pending licenses and come from one local virtual
    account of the same local account (the upgrade moves to it). Refused: nothing changes.
    """
    as_of = as_of or today()
    wanted = _quantities(replacements)
    if not wanted:
        raise ServiceError("Identify the licenses to be replaced by the upgrade licenses.", field="replacements")
    with transaction.atomic():
        line = Entitlement.objects.select_related("virtual_account", "license").filter(pk=upgrade.pk).first()
        if line is None or not line.upgrade_id or not line.upgrade_from_id:
            raise ServiceError("This license line is not an upgrade.")
        if line.pending_quantity <= 0:
            raise ServiceError("This upgrade was completed already.")
        va = line.virtual_account
        chosen = list(Entitlement.objects.filter(pk__in=list(wanted)).select_related("virtual_account").order_by("pk"))
        targets = {c.virtual_account_id: c.virtual_account for c in chosen}
        if len(chosen) != len(wanted) or any(v.account_id != va.account_id for v in targets.values()):
            raise ServiceError("A license line to be replaced is not in this local account.", field="replacements")
        if len(targets) != 1:
            raise ServiceError(
                "The licenses to be replaced must all be in one local virtual account.", field="replacements"
            )
        target = next(iter(targets.values()))
        if actor is not None and not can(
            actor, Action.TRANSFER, account=va.account, virtual_account=va, to_virtual_account=target
        ):
            raise NotAllowed("You are not allowed to complete this upgrade in these virtual accounts.")
        locked = lock_virtual_accounts(va, target)
        va, target = locked[va.pk], locked[target.pk]
        line = (
            Entitlement.objects.select_for_update(of=("self",))
            .select_related("license", "upgrade_from")
            .get(pk=line.pk)
        )
        if line.pending_quantity <= 0:
            raise ServiceError("This upgrade was completed already.")
        replaces = line.upgrade_from
        assert replaces is not None  # checked above
        lines = {
            r.pk: r
            for r in replaceable_lines(line, [target], as_of=as_of)
            .filter(pk__in=list(wanted))
            .select_for_update(of=("self",))
        }
        if set(lines) != set(wanted):
            raise ServiceError(
                f"Only valid “{replaces.name}” licenses of one local virtual account can be replaced by this upgrade.",
                field="replacements",
            )
        for line_id, quantity in wanted.items():
            if quantity > lines[line_id].quantity:
                raise ServiceError(
                    f"A license line holds only {lines[line_id].quantity} licenses to be replaced.",
                    field="replacements",
                )
        if sum(wanted.values()) != line.pending_quantity:
            raise ServiceError(
                f"Identify exactly {line.pending_quantity} “{replaces.name}” licenses to be replaced "
                f"(not {sum(wanted.values())}).",
                field="replacements",
            )
        replaced = []
        for line_id, quantity in sorted(wanted.items()):
            old = lines[line_id]
            replaced.append(
                {
                    "tag": old.license.entitlement_tag,
                    "license_type": old.license_type,
                    "start_date": old.start_date.isoformat() if old.start_date else None,
                    "end_date": old.end_date.isoformat() if old.end_date else None,
                    "subscription_id": old.subscription_id,
                    "sku": old.sku,
                    "source": old.source,
                    "quantity": quantity,
                }
            )
            if quantity == old.quantity:
                old.delete()
            else:
                old.quantity -= quantity
                old.save(update_fields=["quantity"])
        count = line.pending_quantity
        line.quantity, line.pending_quantity, line.virtual_account = line.quantity + count, 0, target
        line.save(update_fields=["quantity", "pending_quantity", "virtual_account"])
        UpgradeCompletion.objects.update_or_create(
            account_id=va.account_id,
            upgrade_id=line.upgrade_id,
            defaults={"replaced": replaced, "completed_at": timezone.now(), "acknowledged_at": None},
        )
        events.record(
            "license.upgrade_completed",
            actor=actor,
            virtual_account=target,
            count=count,
            tag=line.license.name,
            replaced_tag=replaces.name,
            pool_name=target.name,
        )
        alert_hooks.lines_changed(va.account_id, [va, target])
    return UpgradeResult(upgrade=line, virtual_account=target, replaced=sorted(wanted.items()))


__all__ = ["UpgradeResult", "pending_upgrades", "replaceable_lines", "complete_upgrade"]
