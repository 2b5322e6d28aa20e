"""Specific License Reservation: licenses of a local virtual account set aside for one product instance.

``reserve_licenses`` (Reserve Licenses), ``update_reservation`` (Update Reserved Licenses) and
``return_reservation`` (return them to the virtual account) are the user's; the system's are
``move_reservations`` (a product instance transfer takes its reserved licenses along) and
``return_to_smart_account`` (CSSM returned them: the synchronization). Each locks the product
instance's virtual account row (``lock_virtual_accounts``, the lock every license transfer takes
first) before it reads a balance, so a reservation racing a transfer or another reservation
cannot overdraw the pool. The guide's rules and ours: docs/licensing-engine.md, "Reservations".
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import Alert, Entitlement, LicenseDefinition, LicenseReservation, ProductInstance
from ..models.licenses import valid_on_q
from . import alert_hooks
from .compliance import today, virtual_account_positions
from .transfers import _strict_positive_int, lock_virtual_accounts, move_lines

RETURNED_KEY_PREFIX = "reservation_returned:"


@dataclass(frozen=True)
class Reservable:
    """A license the product instance's virtual account can reserve now: how many at most."""

    license_id: int
    license: str
    available: int


@dataclass
class ReservationSummary:
    """The reservation of one license for one product instance (its rows summed)."""

    license_id: int
    license: str
    quantity: int
    # (end date or None for perpetual, quantity), longest term first
    terms: list
    # the end dates (passed) of the terms that expired: "Reserved License Expired"
    expired: list


def _require(actor, pi):
    va = pi.virtual_account
    if actor is not None and not can(actor, Action.RESERVE_LICENSES, account=va.account, virtual_account=va):
        raise NotAllowed("You are not allowed to reserve licenses in this virtual account.")


def _license(license):
    if license is None or license == "":
        raise ServiceError("Choose the license to reserve.", field="license")
    if isinstance(license, LicenseDefinition):
        return license
    try:
        return LicenseDefinition.objects.get(pk=int(license))
    except (LicenseDefinition.DoesNotExist, TypeError, ValueError):
        raise ServiceError("There is no such license.", field="license") from None


def _date_text(day):
    return day.strftime("%d-%b-%Y")


def terms_text(terms):
    """ "2 expiring 31-Dec-2027, 1 perpetual": the guide's parenthesis of the Licenses Reserved event."""
    return ", ".join(
        f"{quantity} perpetual" if end is None else f"{quantity} expiring {_date_text(end)}" for end, quantity in terms
    )


def _details(license_name, terms):
    count = sum(quantity for _end, quantity in terms)
    return f"{count} “{license_name}” License(s) ({terms_text(terms)})"


def _lock(pi):
    """Lock ``pi``'s virtual account, then ``pi``; returns the locked (va, pi)."""
    va = lock_virtual_accounts(pi.virtual_account)[pi.virtual_account_id]
    locked = (
        ProductInstance.objects.select_for_update(of=("self",)).select_related("virtual_account__account").get(pk=pi.pk)
    )
    if locked.virtual_account_id != va.pk:
        raise ServiceError("The product instance moved meanwhile; reload and try again.")
    return va, locked


def _available(va, license_id, as_of):
    for position in virtual_account_positions(va, as_of=as_of):
        if position.license_id == license_id:
            return position.available
    return 0


def _allocate(va, license_id, quantity, pi, as_of):
    """Split ``quantity`` over the valid lines of the license, longest term first (perpetual first),
    leaving out what other product instances of the virtual account reserved of each term.

    Returns [(end date or None, license type, quantity)], or raises ServiceError when the terms
    cannot hold that many."""
    held: defaultdict[datetime.date | None, int] = defaultdict(int)
    types: dict[datetime.date | None, str] = {}
    for line in Entitlement.objects.filter(valid_on_q(as_of), virtual_account=va, license_id=license_id).order_by("pk"):
        held[line.end_date] += line.quantity
        types.setdefault(line.end_date, line.license_type)
    taken = (
        LicenseReservation.objects.filter(product_instance__virtual_account=va, license_id=license_id)
        .exclude(product_instance=pi)
        .values_list("end_date")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    for end, total in taken:
        held[end] -= total
    far = datetime.date.max
    plan, left = [], quantity
    for end in sorted(held, key=lambda end: end or far, reverse=True):
        take = min(left, held[end])
        if take > 0:
            plan.append((end, types[end], take))
            left -= take
    if left:
        free = quantity - left
        raise ServiceError(
            f"Only {free} of these licenses are free to reserve in this virtual account.", field="quantity"
        )
    return plan


def _write(pi, license_id, plan, now):
    """Make ``pi``'s reservation of the license exactly ``plan``; returns the terms [(end, quantity)]."""
    LicenseReservation.objects.filter(product_instance=pi, license_id=license_id).delete()
    LicenseReservation.objects.bulk_create(
        LicenseReservation(
            product_instance=pi,
            license_id=license_id,
            license_type=license_type,
            end_date=end,
            quantity=quantity,
            created_at=now,
            updated_at=now,
        )
        for end, license_type, quantity in plan
    )
    return [(end, quantity) for end, _type, quantity in plan]


def _reserved_quantity(pi, license_id):
    return (
        LicenseReservation.objects.filter(product_instance=pi, license_id=license_id).aggregate(n=Sum("quantity"))["n"]
        or 0
    )


def reserve_licenses(*, actor, product_instance, license, quantity, as_of=None, now=None):
    """ "Reserve Licenses": set ``quantity`` licenses of the virtual account aside for the product instance.

    Refused when the product instance already holds a reservation of that license (Update it),
    or when the virtual account does not have that many available (purchased, not in use, not
    reserved). Returns the reserved terms [(end date or None, quantity)].
    """
    _require(actor, product_instance)
    definition = _license(license)
    quantity = _strict_positive_int(quantity)
    as_of, now = as_of or today(), now or timezone.now()
    with transaction.atomic():
        va, pi = _lock(product_instance)
        if LicenseReservation.objects.filter(product_instance=pi, license=definition).exists():
            raise ServiceError(
                f"The product instance already has “{definition.name}” licenses reserved: update that reservation.",
                field="license",
            )
        available = _available(va, definition.pk, as_of)
        if quantity > available:
            raise ServiceError(
                f"Only {max(available, 0)} “{definition.name}” licenses are available in the Virtual Account "
                f"“{va.name}”.",
                field="quantity",
            )
        terms = _write(pi, definition.pk, _allocate(va, definition.pk, quantity, pi, as_of), now)
        events.record(
            "reservation.reserved",
            actor=actor,
            virtual_account=va,
            identifier=pi.display_name,
            pool_name=va.name,
            details=_details(definition.name, terms),
        )
    # Available changes, so Insufficient Licenses may open or clear, and an updated term clears
    # Reserved License Expired: the account's alerts, on commit (a rare, deliberate write).
    alert_hooks.account_changed(va.account_id)
    return terms


def update_reservation(*, actor, product_instance, license, quantity, as_of=None, now=None):
    """ "Update Reserved Licenses": the reservation of the license becomes ``quantity`` licenses,
    taken again from the terms valid today (longest first): an expired term in the reservation
    is replaced by a valid one, which clears its "Reserved License Expired" alert."""
    _require(actor, product_instance)
    definition = _license(license)
    quantity = _strict_positive_int(quantity)
    as_of, now = as_of or today(), now or timezone.now()
    with transaction.atomic():
        va, pi = _lock(product_instance)
        old = _reserved_quantity(pi, definition.pk)
        if not old:
            raise ServiceError(f"The product instance has no “{definition.name}” licenses reserved.", field="license")
        available = _available(va, definition.pk, as_of) + old
        if quantity > available:
            raise ServiceError(
                f"Only {max(available, 0)} “{definition.name}” licenses can be reserved for this product instance "
                f"in the Virtual Account “{va.name}”.",
                field="quantity",
            )
        terms = _write(pi, definition.pk, _allocate(va, definition.pk, quantity, pi, as_of), now)
        events.record(
            "reservation.updated",
            actor=actor,
            virtual_account=va,
            identifier=pi.display_name,
            pool_name=va.name,
            old_count=old,
            count=quantity,
            tag=definition.name,
            details=terms_text(terms),
        )
    # Available changes, so Insufficient Licenses may open or clear, and an updated term clears
    # Reserved License Expired: the account's alerts, on commit (a rare, deliberate write).
    alert_hooks.account_changed(va.account_id)
    return terms


def return_reservation(*, actor, product_instance, license):
    """Return the product instance's reserved licenses of ``license`` to its virtual account."""
    _require(actor, product_instance)
    definition = _license(license)
    with transaction.atomic():
        va, pi = _lock(product_instance)
        count = _reserved_quantity(pi, definition.pk)
        if not count:
            raise ServiceError(f"The product instance has no “{definition.name}” licenses reserved.", field="license")
        LicenseReservation.objects.filter(product_instance=pi, license=definition).delete()
        events.record(
            "reservation.returned",
            actor=actor,
            virtual_account=va,
            identifier=pi.display_name,
            pool_name=va.name,
            count=count,
            tag=definition.name,
        )
    # Available changes, so Insufficient Licenses may open or clear, and an updated term clears
    # Reserved License Expired: the account's alerts, on commit (a rare, deliberate write).
    alert_hooks.account_changed(va.account_id)
    return count


def move_reservations(*, actor, pi, from_va, to_va, as_of):
    """A product instance transfer (both virtual accounts and ``pi`` locked by the caller): its
    reserved licenses move to ``to_va`` ("all the reserved licenses for that Product Instance will
    move to the destination local Virtual Account"): the lines of each reserved term that is still
    valid move along. Returns the license transfer moves; records the reservation's events."""
    rows = list(
        LicenseReservation.objects.filter(product_instance=pi).select_related("license").order_by("license__name", "pk")
    )
    if not rows:
        return []
    moves = []
    for row in rows:
        if row.end_date is not None and row.end_date < as_of:
            continue  # the term ended: its lines left the pool already
        lines = list(
            Entitlement.objects.select_for_update()
            .filter(valid_on_q(as_of), virtual_account=from_va, license_id=row.license_id, end_date=row.end_date)
            .order_by("pk")
        )
        quantity = min(row.quantity, sum(line.quantity for line in lines))
        if quantity:
            moves += move_lines(lines, quantity, to_va)
    by_license: dict[int, tuple[str, list]] = {}
    for row in rows:
        by_license.setdefault(row.license_id, (row.license.name, []))[1].append((row.end_date, row.quantity))
    details = "; ".join(_details(name, terms) for name, terms in by_license.values())
    params = {
        "identifier": pi.display_name,
        "old_pool_name": from_va.name,
        "new_pool_name": to_va.name,
        "details": details,
    }
    events.record("reservation.transferred", actor=actor, virtual_account=from_va, **params)
    events.record("reservation.transferred_in", actor=actor, virtual_account=to_va, **params)
    return moves


def return_to_smart_account(product_instance, *, now=None):
    """CSSM returned the product instance's reserved licenses (it connected to another Smart Account):
    the reservation is removed (its licenses are available again in the virtual account), the
    "Reserved Licenses Returned to Smart Account" alert opens and its event is recorded.

    Called by the synchronization (the system: no actor). Returns the alert, or None when the
    product instance had nothing reserved (a response applied twice changes nothing)."""
    now = now or timezone.now()
    with transaction.atomic():
        va, pi = _lock(product_instance)
        rows = list(
            LicenseReservation.objects.filter(product_instance=pi)
            .select_related("license")
            .order_by("license__name", "pk")
        )
        if not rows:
            return None
        names = list(dict.fromkeys(row.license.name for row in rows))
        LicenseReservation.objects.filter(product_instance=pi).delete()
        params = {
            "identifier": pi.display_name,
            "pool_name": va.name,
            "licenses": ", ".join(f"“{name}”" for name in names),
        }
        message = events.render("reservation.returned_to_smart_account", **params)
        key = f"{RETURNED_KEY_PREFIX}{pi.pk}"
        alert = Alert.objects.select_for_update().filter(account=va.account, key=key).live().first()
        if alert is None:
            alert = Alert.objects.create(
                account=va.account,
                virtual_account=va,
                product_instance=pi,
                alert_type=Alert.Type.RESERVED_RETURNED,
                severity=Alert.Severity.MINOR,
                key=key,
                message=message,
                opened_at=now,
                updated_at=now,
            )
        else:
            alert.status, alert.message, alert.updated_at = Alert.Status.OPEN, message, now
            alert.dismissed_at = alert.dismissed_by = None
            alert.save(update_fields=["status", "message", "updated_at", "dismissed_at", "dismissed_by"])
        events.record(
            "reservation.returned_to_smart_account",
            virtual_account=va,
            **params,
        )
    return alert


def reservations_of(product_instance, *, as_of=None):
    """The product instance's reservations, one per license: [ReservationSummary] by license name."""
    as_of = as_of or today()
    summaries: dict[int, ReservationSummary] = {}
    rows = (
        LicenseReservation.objects.filter(product_instance=product_instance)
        .select_related("license")
        .order_by("license__name", "license_id")
    )
    for row in rows:
        summary = summaries.get(row.license_id)
        if summary is None:
            summary = summaries[row.license_id] = ReservationSummary(row.license_id, row.license.name, 0, [], [])
        summary.quantity += row.quantity
        summary.terms.append((row.end_date, row.quantity))
        if row.end_date is not None and row.end_date < as_of:
            summary.expired.append(row.end_date)
    far = datetime.date.max
    for summary in summaries.values():
        summary.terms.sort(key=lambda term: term[0] or far, reverse=True)
    return list(summaries.values())


def reservable_licenses(product_instance, *, as_of=None):
    """The licenses the product instance's virtual account has available now (the form's choices)."""
    positions = virtual_account_positions(product_instance.virtual_account, as_of=as_of or today())
    return [Reservable(p.license_id, p.license, p.available) for p in positions if p.available > 0]


def reserved_by_instance(product_instances):
    """{product instance id: licenses reserved} for the Product Instances tab's rows (one query)."""
    rows = (
        LicenseReservation.objects.filter(product_instance__in=product_instances)
        .values_list("product_instance_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    return dict(rows)


__all__ = [
    "reserve_licenses",
    "update_reservation",
    "return_reservation",
    "move_reservations",
    "return_to_smart_account",
    "reservations_of",
    "reservable_licenses",
    "reserved_by_instance",
    "terms_text",
    "RETURNED_KEY_PREFIX",
]
