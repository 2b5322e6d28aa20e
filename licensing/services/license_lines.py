"""The Cisco Administrator's Add License / Remove Licenses (Administration workspace, Accounts >
License Transactions): license lines added to, and removed from, a local virtual account by hand.

A line added here has the source ``Manual``: it is not from CSSM, so the synchronization, which
makes the lines CSSM sent what CSSM says, neither compares nor removes it
(``sync.services.synchronization.apply_entitlements``). Only such lines can be removed here: a
line from CSSM would come back with the next synchronization, and is returned in CSSM. A removal
that would leave the virtual account fewer licenses than its reservations hold is refused.
The rules: docs/operations-widgets.md, "License Transactions of an account".
"""

import datetime

from django.db import transaction

from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import Entitlement, LicenseDefinition, VirtualAccount
from ..models.licenses import valid_on_q
from . import alert_hooks
from .compliance import today, virtual_account_positions
from .transfers import _strict_positive_int, lock_virtual_accounts

ADDABLE_TYPES = (Entitlement.LicenseType.PERPETUAL, Entitlement.LicenseType.TERM)


def _check(actor):
    if actor is not None and not can(actor, Action.MANAGE_LICENSE_LINES):
        raise NotAllowed("You are not allowed to add or remove licenses.")


def account_license_lines(account):
    """The license lines of every local virtual account of ``account``, each with its license and
    virtual account (one query per page): the Administration's License Transactions tab."""
    return Entitlement.objects.filter(virtual_account__account=account).select_related("license", "virtual_account")


def add_license(
    *,
    actor,
    virtual_account,
    license,
    quantity,
    license_type,
    start_date=None,
    end_date=None,
    sku="",
):
    """Add ``quantity`` licenses of ``license`` to ``virtual_account`` as a new Manual line.

    ``license_type`` is perpetual (no end date) or term (an end date, on or after the start date).
    """
    _check(actor)
    if not isinstance(license, LicenseDefinition):
        raise ServiceError("Choose a license of the catalogue.", field="license")
    if not isinstance(virtual_account, VirtualAccount):
        raise ServiceError("Choose the virtual account.", field="virtual_account")
    if not virtual_account.account.is_active:
        raise ServiceError("Licenses can only be added to a virtual account of an Active local account.")
    quantity = _strict_positive_int(quantity)
    if license_type not in ADDABLE_TYPES:
        raise ServiceError("License type must be Perpetual or Term.", field="license_type")
    for name, value in (("start_date", start_date), ("end_date", end_date)):
        if value is not None and not isinstance(value, datetime.date):
            raise ServiceError("Enter a valid date.", field=name)
    if license_type == Entitlement.LicenseType.PERPETUAL:
        if end_date is not None:
            raise ServiceError("A perpetual license has no expiration date.", field="end_date")
    else:
        if end_date is None:
            raise ServiceError("A term license needs its expiration date.", field="end_date")
        if start_date is not None and end_date < start_date:
            raise ServiceError("The expiration date must be on or after the start date.", field="end_date")
    sku = (sku or "").strip()
    if len(sku) > 100:
        raise ServiceError("The SKU is at most 100 characters.", field="sku")
    with transaction.atomic():
        va = lock_virtual_accounts(virtual_account)[virtual_account.pk]
        line = Entitlement.objects.create(
            license=license,
            virtual_account=va,
            license_type=license_type,
            quantity=quantity,
            start_date=start_date,
            end_date=end_date if license_type == Entitlement.LicenseType.TERM else None,
            sku=sku,
            source=Entitlement.Source.MANUAL,
        )
        events.record(
            "license.added_manually",
            actor=actor,
            virtual_account=va,
            count=quantity,
            tag=license.name,
            type=line.license_type,
            pool_name=va.name,
        )
        alert_hooks.lines_changed(va.account_id, [va])
    return line


def remove_licenses(*, actor, line, quantity=None, as_of=None):
    """Remove ``quantity`` licenses (all of them when None) from the Manual license ``line``.

    Refused for a line from CSSM, for a line whose licenses are copied to other virtual accounts,
    and when the virtual account would then hold fewer licenses than its reservations of the
    license. Returns the number removed.
    """
    _check(actor)
    as_of = as_of or today()
    with transaction.atomic():
        va = lock_virtual_accounts(line.virtual_account)[line.virtual_account_id]
        line = (
            Entitlement.objects.select_for_update(of=("self",))
            .select_related("license")
            .filter(pk=line.pk, virtual_account=va)
            .first()
        )
        if line is None:
            raise ServiceError("This license line no longer exists.")
        if line.source != Entitlement.Source.MANUAL:
            raise ServiceError(
                "Only licenses added here (source Manual) can be removed: the synchronization with Cisco Smart "
                "Software Manager would bring this line back. Return its licenses in Cisco Smart Software Manager.",
            )
        if line.copies.exists():
            raise ServiceError(
                "Its licenses are copied to other virtual accounts (Change Virtual Account Assignment): remove "
                "the copies first."
            )
        quantity = line.quantity if quantity is None else _strict_positive_int(quantity)
        if quantity > line.quantity:
            raise ServiceError(f"This line holds {line.quantity} licenses.", field="quantity")
        counts_today = Entitlement.objects.filter(valid_on_q(as_of), pk=line.pk).exists()
        if counts_today:
            position = next(
                (p for p in virtual_account_positions(va, as_of=as_of) if p.license_id == line.license_id), None
            )
            if position is not None and position.reserved and position.purchased - quantity < position.reserved:
                reserved = position.reserved
                raise ServiceError(
                    f"{reserved} “{line.license.name}” licenses of the Virtual Account “{va.name}” are reserved "
                    f"for product instances: removing {quantity} would leave {position.purchased - quantity}.",
                    field="quantity",
                )
        if quantity == line.quantity:
            line.delete()
        else:
            line.quantity -= quantity
            line.save(update_fields=["quantity"])
        events.record(
            "license.removed_manually",
            actor=actor,
            virtual_account=va,
            count=quantity,
            tag=line.license.name,
            type=line.license_type,
            pool_name=va.name,
        )
        alert_hooks.lines_changed(va.account_id, [va])
    return quantity
