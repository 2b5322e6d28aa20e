"""License transfers between local virtual accounts of one local account ("Transfer Licenses").

Only purchased quantity moves, never usage; export-restricted licenses move at most their
balance; lines are taken by precedence and split when they move in part; both virtual accounts
are locked in id order before anything is read. The guide's rules and how each is applied:
docs/licensing-engine.md, "License transfers".
"""

import datetime
from collections import OrderedDict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import Entitlement, LicenseDefinition, VirtualAccount
from ..models.licenses import valid_on_q
from . import alert_hooks
from .compliance import positions_before_and_after, today, virtual_account_positions

LONGEST_TERM_FIRST = "LONGEST_TERM_FIRST"
LONGEST_TERM_LAST = "LONGEST_TERM_LAST"
PRECEDENCES = (LONGEST_TERM_FIRST, LONGEST_TERM_LAST)
PERPETUAL, TERM = "PERPETUAL", "TERM"

ALREADY_OUT_OF_COMPLIANCE = (
    "You cannot transfer licenses if the VA is already OOC: the Virtual Account “{pool_name}” is Out Of "
    "Compliance for “{tag}”."
)
# Export-restricted, case 2 (guide's verbiage, shown with the transfer).
EXPORT_RESTRICTED_IN_USE_NOTICE = (
    "Because this license restricted encryption technology, instances of the license that are currently assigned "
    "to product instances cannot be transferred. Those licenses must be removed from the product instances before "
    "they will be available for transfer."
)
# Export-restricted, case 3.
EXPORT_RESTRICTED_ALL_IN_USE = (
    "The “{tag}” licenses of the Virtual Account “{pool_name}” contain restricted encryption technology and are all "
    "in use: transferring them would render the Virtual Account Out Of Compliance, which is not allowed for Export "
    "Control."
)


@dataclass
class Balance:
    purchased: int
    in_use: int
    available: int


@dataclass
class TransferResult:
    quantity: int
    # (source line id, destination line id, quantity moved) for each line touched
    moves: list = field(default_factory=list)
    notice: str = ""


@dataclass
class TransferLimits:
    """What the Transfer Licenses form shows before anything is sent: the source's figures for
    the license, how many may go, and why Transfer / Preview are greyed out ("" when they are not)."""

    purchased: int
    in_use: int
    available: int  # the balance; below 0 when the virtual account is Out Of Compliance
    transferable: int
    refusal: str
    notice: str


@dataclass
class TransferPreview:
    quantity: int
    notice: str
    from_before: Balance
    from_after: Balance
    to_before: Balance
    to_after: Balance


def _strict_positive_int(value, what="Quantity"):
    if isinstance(value, bool):
        value = None
    elif isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value <= 0:
        raise ServiceError(f"{what} must be a whole number of at least 1.", field="quantity")
    return value


def _license_type_q(license_type):
    if license_type is None or license_type == "":
        return Q()
    kind = str(license_type).upper()
    if kind == PERPETUAL:
        return Q(license_type=Entitlement.LicenseType.PERPETUAL)
    if kind in (TERM, "DEMO", "SUBSCRIPTION"):
        return ~Q(license_type=Entitlement.LicenseType.PERPETUAL)
    raise ServiceError("License type must be TERM or PERPETUAL.", field="license_type")


def order_lines(lines, precedence=LONGEST_TERM_FIRST):
    """The lines in the order they are taken: perpetual (the longest term) first with LONGEST_TERM_FIRST."""
    if precedence not in PRECEDENCES:
        raise ServiceError("Precedence must be LONGEST_TERM_FIRST or LONGEST_TERM_LAST.", field="precedence")
    far = datetime.date.max
    lines = sorted(lines, key=lambda line: ((line.end_date or far), line.pk))
    if precedence == LONGEST_TERM_FIRST:
        lines = sorted(lines, key=lambda line: line.end_date or far, reverse=True)  # stable: ids ascend in ties
    return lines


def lock_virtual_accounts(*vas):
    """Lock the virtual accounts' rows in id order (no deadlock between opposite transfers)."""
    ids = sorted({va.pk for va in vas})
    return {va.pk: va for va in VirtualAccount.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")}


def move_lines(lines, quantity, to_va):
    """Move ``quantity`` from ``lines`` (already locked, in order) to ``to_va``; returns the moves."""
    moves = []
    for line in lines:
        if quantity == 0:
            break
        take = min(quantity, line.quantity)
        quantity -= take
        if take == line.quantity:
            line.virtual_account = to_va
            line.save(update_fields=["virtual_account"])
            moves.append((line, line, take))
            continue
        moved = line.create_like(take, virtual_account=to_va)
        line.quantity -= take
        line.save(update_fields=["quantity"])
        moves.append((line, moved, take))
    if quantity:
        raise ServiceError("Not enough licenses to transfer.", field="quantity")
    return moves


def record_transfer_events(actor, moves, from_va, to_va):
    """ "Licenses Transferred", once per (type, subscription) group moved, on both virtual accounts."""
    groups = OrderedDict()
    for _source, moved, take in moves:
        key = (moved.license_id, moved.license_type, moved.subscription_id)
        if key not in groups:
            groups[key] = [moved, 0]
        groups[key][1] += take
    for (_lid, _type, subscription_id), (line, count) in groups.items():
        code = "license.transferred_subscription" if subscription_id else "license.transferred"
        if count == 1:
            code += "_one"
        params = {
            "count": count,
            "tag": line.license.name,
            "type": line.license_type,
            "old_pool_name": from_va.name,
            "new_pool_name": to_va.name,
        }
        if subscription_id:
            params["sub_ref_id"] = subscription_id
        events.record(code, actor=actor, virtual_account=from_va, **params)
        events.record(f"{code}_in", actor=actor, virtual_account=to_va, **params)


def _position(va, license_id, as_of):
    for position in virtual_account_positions(va, as_of=as_of):
        if position.license_id == license_id:
            return position
    return None


def _balance(va, license_id, as_of):
    position = _position(va, license_id, as_of)
    if position is None:
        return Balance(0, 0, 0)
    return Balance(position.purchased, position.in_use, position.available)


def _plan(actor, from_va, to_va, license, quantity, license_type, precedence, entitlement, as_of, lock=True):
    """Check everything and lock (``lock=False``: check only, for a preview); returns
    (from_va, to_va, ordered lines, quantity, notice)."""
    if from_va.account_id != to_va.account_id:
        raise ServiceError(
            "Licenses can only be transferred between virtual accounts of the same local account.",
            field="to_virtual_account",
        )
    if from_va.pk == to_va.pk:
        raise ServiceError(
            "Choose a different virtual account to transfer the licenses to.", field="to_virtual_account"
        )
    if actor is not None and not can(
        actor, Action.TRANSFER, account=from_va.account, virtual_account=from_va, to_virtual_account=to_va
    ):
        raise NotAllowed("You are not allowed to transfer licenses between these virtual accounts.")
    quantity = _strict_positive_int(quantity)
    if precedence not in PRECEDENCES:
        raise ServiceError("Precedence must be LONGEST_TERM_FIRST or LONGEST_TERM_LAST.", field="precedence")
    type_q = _license_type_q(license_type)

    if lock:
        locked = lock_virtual_accounts(from_va, to_va)
        from_va, to_va = locked[from_va.pk], locked[to_va.pk]
    # Lines holding licenses: an upgrade still pending (quantity 0) moves with "Upgrade Pending".
    candidates = (Entitlement.objects.select_for_update() if lock else Entitlement.objects).filter(
        valid_on_q(as_of), virtual_account=from_va, quantity__gt=0
    )
    if entitlement is not None:
        lines = list(candidates.filter(pk=entitlement.pk))
        if not lines:
            raise ServiceError(
                "This license line is not in the virtual account, or is not valid today.", field="entitlement"
            )
        license_id = lines[0].license_id
        if license is not None and getattr(license, "pk", license) != license_id:
            raise ServiceError("This license line is of another license.", field="entitlement")
    else:
        if license is None:
            raise ServiceError("Choose the license to transfer.", field="license")
        license_id = getattr(license, "pk", license)
        lines = order_lines(candidates.filter(type_q, license_id=license_id).order_by("pk"), precedence)
    lines = list(lines)

    position = _position(from_va, license_id, as_of)
    definition = LicenseDefinition.objects.get(pk=license_id)
    refusal, transferable, notice = _rules(from_va, definition, position, sum(line.quantity for line in lines))
    if refusal:
        raise ServiceError(refusal)
    reserved = position.reserved if position is not None else 0
    if quantity > transferable:
        because = f": {reserved} are reserved for product instances" if reserved else ""
        raise ServiceError(
            f"Only {transferable} “{definition.name}” licenses can be transferred from the Virtual Account "
            f"“{from_va.name}”{because}.",
            field="quantity",
        )
    return from_va, to_va, lines, quantity, notice


def _rules(from_va, definition, position, on_lines):
    """The guide's rules for a summary-level transfer out of ``from_va``: (refusal, transferable,
    notice). Refused when the virtual account is already Out Of Compliance for the license, and for
    an export-restricted license whose licenses are all in use (case 3); an export-restricted
    license moves only its balance, with the guide's notice when some are in use (case 2)."""
    available = position.available if position is not None else 0
    in_use = position.in_use if position is not None else 0
    if available < 0:
        return ALREADY_OUT_OF_COMPLIANCE.format(pool_name=from_va.name, tag=definition.name), 0, ""
    transferable, notice = on_lines, ""
    if definition.export_restricted:
        if available <= 0 and in_use > 0:
            return EXPORT_RESTRICTED_ALL_IN_USE.format(pool_name=from_va.name, tag=definition.name), 0, ""
        transferable = min(transferable, available)
        if in_use > 0:
            notice = EXPORT_RESTRICTED_IN_USE_NOTICE
    reserved = position.reserved if position is not None else 0
    if reserved:
        # "Once an entitlement has been reserved, it cannot be transferred between local Virtual
        # Accounts": what stays must still hold every reservation of the license.
        transferable = min(transferable, max(position.purchased - reserved, 0))
    return "", transferable, notice


def transfer_limits(*, from_va, license, as_of=None):
    """Read only: the Transfer Licenses form's figures and whether the guide greys out Transfer /
    Preview for ``license`` out of ``from_va`` (the same rules transfer_licenses refuses by)."""
    as_of = as_of or today()
    position = _position(from_va, license.pk, as_of)
    lines = Entitlement.objects.filter(valid_on_q(as_of), virtual_account=from_va, license_id=license.pk)
    on_lines = sum(lines.values_list("quantity", flat=True))
    refusal, transferable, notice = _rules(from_va, license, position, on_lines)
    if not refusal and transferable <= 0:
        refusal = f"The Virtual Account “{from_va.name}” has no “{license.name}” licenses to transfer."
    return TransferLimits(
        purchased=position.purchased if position is not None else 0,
        in_use=position.in_use if position is not None else 0,
        available=position.available if position is not None else 0,
        transferable=max(transferable, 0),
        refusal=refusal,
        notice=notice,
    )


def transfer_licenses(
    *,
    actor,
    from_va,
    to_va,
    license=None,
    quantity,
    license_type=None,
    precedence=LONGEST_TERM_FIRST,
    entitlement=None,
    as_of=None,
):
    """Transfer ``quantity`` licenses from ``from_va`` to ``to_va``; returns a TransferResult.

    Summary level: ``license`` (and optionally ``license_type`` TERM / PERPETUAL and
    ``precedence``). Transaction-detail level: ``entitlement``, one line of ``from_va``.
    """
    as_of = as_of or today()
    with transaction.atomic():
        from_va, to_va, lines, quantity, notice = _plan(
            actor, from_va, to_va, license, quantity, license_type, precedence, entitlement, as_of
        )
        moves = move_lines(lines, quantity, to_va)
        record_transfer_events(actor, moves, from_va, to_va)
        alert_hooks.lines_changed(from_va.account_id, [from_va, to_va])
    return TransferResult(quantity=quantity, moves=[(s.pk, m.pk, q) for s, m, q in moves], notice=notice)


def preview_transfer(
    *,
    actor,
    from_va,
    to_va,
    license=None,
    quantity,
    license_type=None,
    precedence=LONGEST_TERM_FIRST,
    entitlement=None,
    as_of=None,
):
    """ "Show Preview": the before/after balances of both virtual accounts. Read only: the same
    checks as transfer_licenses (no lock taken), then the "after" balances are the compliance
    computation's own on the changed purchased quantities (substitution included); nothing is
    written."""
    as_of = as_of or today()
    from_va, to_va, lines, quantity, notice = _plan(
        actor, from_va, to_va, license, quantity, license_type, precedence, entitlement, as_of, lock=False
    )
    license_id = lines[0].license_id
    before, after = positions_before_and_after(
        {from_va.pk: from_va.name, to_va.pk: to_va.name},
        {(from_va.pk, license_id): -quantity, (to_va.pk, license_id): quantity},
        as_of=as_of,
    )
    return TransferPreview(
        quantity=quantity,
        notice=notice,
        from_before=_balance_of(before, from_va, license_id),
        from_after=_balance_of(after, from_va, license_id),
        to_before=_balance_of(before, to_va, license_id),
        to_after=_balance_of(after, to_va, license_id),
    )


def _balance_of(positions, va, license_id):
    position = positions.get((va.pk, license_id))
    if position is None:
        return Balance(0, 0, 0)
    return Balance(position.purchased, position.in_use, position.available)


# --- Bulk: several licenses to (or from) one other virtual account, all or nothing -------------


@dataclass
class BulkItem:
    """One license of a bulk transfer's preview: its figures in the source, what may move and why
    not (``refusal``, "" when it may), and the before/after of both virtual accounts."""

    license: LicenseDefinition
    quantity: int | None
    limits: TransferLimits
    refusal: str = ""
    from_before: Balance = field(default_factory=lambda: Balance(0, 0, 0))
    from_after: Balance = field(default_factory=lambda: Balance(0, 0, 0))
    to_before: Balance = field(default_factory=lambda: Balance(0, 0, 0))
    to_after: Balance = field(default_factory=lambda: Balance(0, 0, 0))


@dataclass
class BulkPreview:
    from_va: VirtualAccount
    to_va: VirtualAccount
    items: list

    @property
    def refused(self):
        return any(item.refusal for item in self.items)

    @property
    def total(self):
        return sum(item.quantity or 0 for item in self.items)


def _bulk_items(items):
    """[(license, quantity)] checked for shape: at least one, no license twice."""
    items = list(items)
    if not items:
        raise ServiceError("Select at least one license to transfer.", field="licenses")
    seen = set()
    for license, _quantity in items:
        if license.pk in seen:
            raise ServiceError(f"The license “{license.name}” is listed twice.", field="licenses")
        seen.add(license.pk)
    return items


def _bulk_checks(actor, from_va, to_va):
    if from_va.account_id != to_va.account_id:
        raise ServiceError(
            "Licenses can only be transferred between virtual accounts of the same local account.",
            field="to_virtual_account",
        )
    if from_va.pk == to_va.pk:
        raise ServiceError(
            "Choose a different virtual account to transfer the licenses to.", field="to_virtual_account"
        )
    if actor is not None and not can(
        actor, Action.TRANSFER, account=from_va.account, virtual_account=from_va, to_virtual_account=to_va
    ):
        raise NotAllowed("You are not allowed to transfer licenses between these virtual accounts.")


def limits_of(positions, va, license):
    """TransferLimits of ``license`` out of ``va`` from positions already computed (no query):
    the purchased quantity on the day is what the valid lines hold."""
    position = positions.get((va.pk, license.pk))
    on_lines = position.purchased if position is not None else 0
    refusal, transferable, notice = _rules(va, license, position, on_lines)
    if not refusal and transferable <= 0:
        refusal = f"The Virtual Account “{va.name}” has no “{license.name}” licenses to transfer."
    return TransferLimits(
        purchased=position.purchased if position is not None else 0,
        in_use=position.in_use if position is not None else 0,
        available=position.available if position is not None else 0,
        transferable=max(transferable, 0),
        refusal=refusal,
        notice=notice,
    )


def transfer_limits_bulk(*, from_va, licenses, as_of=None):
    """Read only: {license id: TransferLimits} of ``licenses`` out of ``from_va`` (one query): the
    bulk form's figures and which licenses the rules refuse up front."""
    current, _ = positions_before_and_after({from_va.pk: from_va.name}, {}, as_of=as_of or today())
    return {license.pk: limits_of(current, from_va, license) for license in licenses}


def preview_bulk_transfer(*, actor, from_va, to_va, items, as_of=None):
    """Read only: the preview of a bulk transfer of ``items`` [(license, quantity or None)] from
    ``from_va`` to ``to_va``: per license its figures in the source, the refusal of the rules (the
    Transfer button is disabled on any), and the before/after Purchased / Available of both
    virtual accounts. One positions query (the compliance computation's, substitution included);
    nothing is locked or written. A quantity of None previews the limits only."""
    as_of = as_of or today()
    _bulk_checks(actor, from_va, to_va)
    items = _bulk_items(items)
    changes = {}
    checked = []
    names = {from_va.pk: from_va.name, to_va.pk: to_va.name}
    current, _ = positions_before_and_after(names, {}, as_of=as_of)
    for license, quantity in items:
        limits = limits_of(current, from_va, license)
        refusal = limits.refusal
        if not refusal and quantity is not None:
            try:
                quantity = _strict_positive_int(quantity)
            except ServiceError as error:
                refusal, quantity = error.message, None
        if not refusal and quantity is not None and quantity > limits.transferable:
            refusal = (
                f"Only {limits.transferable} “{license.name}” licenses can be transferred from the Virtual Account "
                f"“{from_va.name}”."
            )
        if not refusal and quantity:
            changes[(from_va.pk, license.pk)] = -quantity
            changes[(to_va.pk, license.pk)] = quantity
        checked.append(BulkItem(license=license, quantity=quantity, limits=limits, refusal=refusal))
    before, after = positions_before_and_after(names, changes, as_of=as_of) if changes else (current, current)
    for item in checked:
        item.from_before = _balance_of(before, from_va, item.license.pk)
        item.from_after = _balance_of(after, from_va, item.license.pk)
        item.to_before = _balance_of(before, to_va, item.license.pk)
        item.to_after = _balance_of(after, to_va, item.license.pk)
    return BulkPreview(from_va=from_va, to_va=to_va, items=checked)


def transfer_licenses_bulk(*, actor, from_va, to_va, items, precedence=LONGEST_TERM_FIRST, as_of=None):
    """Transfer several licenses ``items`` [(license, quantity)] from ``from_va`` to ``to_va`` in
    one transaction: all or nothing (any refusal raises ServiceError naming the license and
    nothing is written). Both virtual accounts are locked once, in id order, before anything is
    read; each license is then checked and moved as transfer_licenses does, with its own
    "Licenses Transferred" events. Returns [TransferResult] in the order of ``items``."""
    as_of = as_of or today()
    _bulk_checks(actor, from_va, to_va)
    items = _bulk_items(items)
    results = []
    with transaction.atomic():
        locked = lock_virtual_accounts(from_va, to_va)
        source, target = locked[from_va.pk], locked[to_va.pk]
        source.account, target.account = from_va.account, to_va.account
        for license, quantity in items:
            try:
                source, target, lines, quantity, notice = _plan(
                    actor, source, target, license, quantity, None, precedence, None, as_of
                )
            except ServiceError as error:
                raise ServiceError(f"“{license.name}”: {error.message}", field=error.field) from None
            moves = move_lines(lines, quantity, target)
            record_transfer_events(actor, moves, source, target)
            results.append(
                TransferResult(quantity=quantity, moves=[(s.pk, m.pk, q) for s, m, q in moves], notice=notice)
            )
        alert_hooks.lines_changed(source.account_id, [source, target])
    return results


__all__ = [
    "transfer_licenses",
    "preview_transfer",
    "preview_bulk_transfer",
    "transfer_limits_bulk",
    "transfer_licenses_bulk",
    "BulkPreview",
    "BulkItem",
    "TransferResult",
    "TransferPreview",
    "Balance",
    "LONGEST_TERM_FIRST",
    "LONGEST_TERM_LAST",
    "order_lines",
    "move_lines",
]
