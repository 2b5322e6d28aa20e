"""Port licenses (license portability): convert licenses of one license into licenses of another
inside a local virtual account, where Cisco Smart Software Manager allows it.

CSSM says which licenses of the local account are portable and to what (``PortableLicense``,
the synchronization's ``portable_licenses``: ``apply_cssm_portability``). ``port_licenses`` takes
``quantity`` licenses of the license off its lines in the local virtual account (bought lines:
not copies made by Change Virtual Account Assignment, not lines a System Admin added by hand,
which CSSM does not hold) and makes as many licenses of the target with the same terms (type,
start and end dates, subscription, SKU, source): a new license line each, ``ported_from`` the
license. Only available licenses port: not those in use, not those reserved for product
instances. The next synchronization tells CSSM (``PortCompletion``, the request's
``port_completions``); until CSSM answers, the synchronization keeps the port (it does not put
the licenses back). docs/licensing-workspace.md, "Port".
"""

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import Entitlement, LicenseDefinition, PortableLicense, PortCompletion
from ..models.licenses import valid_on_q
from . import alert_hooks
from .compliance import positions_before_and_after, today
from .transfers import LONGEST_TERM_LAST, Balance, _balance_of, _position, _strict_positive_int, lock_virtual_accounts
from .transfers import order_lines as _order_lines


@dataclass
class PortLimits:
    """What the Port form shows: the license's figures in the virtual account, how many may be
    ported, and why Port / Preview are greyed out ("" when they are not)."""

    purchased: int
    in_use: int
    reserved: int
    available: int
    portable: int
    refusal: str


@dataclass
class PortPreview:
    quantity: int
    target: LicenseDefinition
    from_before: Balance
    from_after: Balance
    to_before: Balance
    to_after: Balance


@dataclass
class PortResult:
    port_id: str
    quantity: int
    target: LicenseDefinition
    lines: list  # the new lines of the target


def portable_targets(account, license_ids=None):
    """{license id: [target LicenseDefinition, ...]} CSSM lets the account port (one query)."""
    rows = PortableLicense.objects.filter(account=account).select_related("target")
    if license_ids is not None:
        rows = rows.filter(license_id__in=list(license_ids))
    out: dict[int, list] = {}
    for row in rows.order_by("target__name", "target_id"):
        out.setdefault(row.license_id, []).append(row.target)
    return out


def billing_and_portability(account, license_ids):
    """{license id: (billing type, portable)} for ``license_ids``: the API's ``billingType`` and
    ``isPortable`` (CSSM lets the account port it), in one query (none for no ids)."""
    license_ids = set(license_ids)
    if not license_ids:
        return {}
    portable = PortableLicense.objects.filter(account=account, license=OuterRef("pk"))
    rows = (
        LicenseDefinition.objects.filter(pk__in=license_ids)
        .annotate(portable=Exists(portable))
        .values_list("pk", "billing_type", "portable")
    )
    return {pk: (billing, bool(is_portable)) for pk, billing, is_portable in rows}


def _lines(va, license_id, as_of, *, lock):
    rows = (Entitlement.objects.select_for_update(of=("self",)) if lock else Entitlement.objects).filter(
        valid_on_q(as_of), virtual_account=va, license_id=license_id, quantity__gt=0, copied_from__isnull=True
    )
    rows = rows.exclude(source=Entitlement.Source.MANUAL).order_by("pk")
    # The licenses that end first are ported first (the longest terms stay).
    return _order_lines(list(rows), LONGEST_TERM_LAST)


def _limits(va, license, position, on_lines):
    purchased = position.purchased if position is not None else 0
    in_use = position.in_use if position is not None else 0
    reserved = position.reserved if position is not None else 0
    available = position.available if position is not None else 0
    portable = max(min(available, on_lines), 0)
    refusal = ""
    if available < 0:
        refusal = (
            f"The Virtual Account “{va.name}” is out of compliance for “{license.name}”: its licenses cannot be ported."
        )
    elif portable <= 0:
        refusal = f"The Virtual Account “{va.name}” has no available “{license.name}” licenses to port."
    return PortLimits(purchased, in_use, reserved, available, portable, refusal)


def port_limits(*, virtual_account, license, as_of=None):
    """Read only: the Port form's figures (the same rules port_licenses refuses by)."""
    as_of = as_of or today()
    position = _position(virtual_account, license.pk, as_of)
    on_lines = sum(line.quantity for line in _lines(virtual_account, license.pk, as_of, lock=False))
    return _limits(virtual_account, license, position, on_lines)


def _check(actor, va, license, target, quantity):
    if actor is not None and not can(
        actor, Action.TRANSFER, account=va.account, virtual_account=va, to_virtual_account=va
    ):
        raise NotAllowed("You are not allowed to port licenses in this virtual account.")
    quantity = _strict_positive_int(quantity)
    target_id = getattr(target, "pk", target)
    allowed = {t.pk: t for t in portable_targets(va.account, [license.pk]).get(license.pk, [])}
    if not allowed:
        raise ServiceError(f"“{license.name}” licenses are not portable.", field="target")
    if target_id not in allowed:
        raise ServiceError(
            f"“{license.name}” licenses cannot be ported to this license: choose one of "
            + ", ".join(f"“{t.name}”" for t in allowed.values())
            + ".",
            field="target",
        )
    return allowed[target_id], quantity


def _plan(actor, va, license, target, quantity, as_of, *, lock):
    target, quantity = _check(actor, va, license, target, quantity)
    if lock:
        va = lock_virtual_accounts(va)[va.pk]
    lines = _lines(va, license.pk, as_of, lock=lock)
    limits = _limits(va, license, _position(va, license.pk, as_of), sum(line.quantity for line in lines))
    if limits.refusal:
        raise ServiceError(limits.refusal)
    if quantity > limits.portable:
        because = []
        if limits.in_use:
            because.append(f"{limits.in_use} in use")
        if limits.reserved:
            because.append(f"{limits.reserved} reserved for product instances")
        raise ServiceError(
            f"Only {limits.portable} “{license.name}” licenses can be ported from the Virtual Account “{va.name}”"
            + (f" ({', '.join(because)})" if because else "")
            + ".",
            field="quantity",
        )
    return va, target, lines, quantity


def preview_port(*, actor, virtual_account, license, target, quantity, as_of=None):
    """ "Preview": the before/after of both licenses in the virtual account. Read only."""
    as_of = as_of or today()
    va, target, _lines_, quantity = _plan(actor, virtual_account, license, target, quantity, as_of, lock=False)
    before, after = positions_before_and_after(
        {va.pk: va.name}, {(va.pk, license.pk): -quantity, (va.pk, target.pk): quantity}, as_of=as_of
    )
    return PortPreview(
        quantity=quantity,
        target=target,
        from_before=_balance_of(before, va, license.pk),
        from_after=_balance_of(after, va, license.pk),
        to_before=_balance_of(before, va, target.pk),
        to_after=_balance_of(after, va, target.pk),
    )


def _wire_line(line, tag, quantity):
    return {
        "tag": tag,
        "license_type": line.license_type,
        "start_date": line.start_date.isoformat() if line.start_date else None,
        "end_date": line.end_date.isoformat() if line.end_date else None,
        "subscription_id": line.subscription_id,
        "sku": line.sku,
        "source": line.source,
        "quantity": quantity,
    }


def port_licenses(*, actor, virtual_account, license, target, quantity, as_of=None, now=None):
    """Port ``quantity`` licenses of ``license`` in ``virtual_account`` to ``target`` (a license
    CSSM lets it be ported to); returns a PortResult. Refused: nothing changes."""
    as_of = as_of or today()
    now = now or timezone.now()
    with transaction.atomic():
        va, target, lines, quantity = _plan(actor, virtual_account, license, target, quantity, as_of, lock=True)
        left, ported, made = quantity, [], []
        for line in lines:
            if not left:
                break
            take = min(left, line.quantity)
            left -= take
            ported.append(_wire_line(line, license.entitlement_tag, take))
            made.append(line.create_like(take, license=target, ported_from=license))
            if take == line.quantity:
                line.delete()
            else:
                line.quantity -= take
                line.save(update_fields=["quantity"])
        port_id = f"PORT-{uuid.uuid4().hex[:16].upper()}"
        PortCompletion.objects.create(
            account_id=va.account_id,
            port_id=port_id,
            target_tag=target.entitlement_tag,
            ported=ported,
            completed_at=now,
        )
        events.record(
            "license.ported",
            actor=actor,
            virtual_account=va,
            count=quantity,
            tag=license.name,
            target=target.name,
            pool_name=va.name,
        )
        alert_hooks.lines_changed(va.account_id, [va])
    return PortResult(port_id=port_id, quantity=quantity, target=target, lines=made)


# --- the synchronization's side -----------------------------------------------------------------


def apply_cssm_portability(account, entries):
    """Make the account's portable licenses the ones CSSM sent (``[{tag, targets: [tag]}]``, the
    complete set); tags this On-Prem does not know are left out. Returns the number kept."""
    tags = {e["tag"] for e in entries} | {t for e in entries for t in e["targets"]}
    known = dict(LicenseDefinition.objects.filter(entitlement_tag__in=tags).values_list("entitlement_tag", "pk"))
    wanted = {
        (known[e["tag"]], known[t])
        for e in entries
        for t in e["targets"]
        if e["tag"] in known and t in known and t != e["tag"]
    }
    held = {(r.license_id, r.target_id): r.pk for r in PortableLicense.objects.filter(account=account)}
    gone = [pk for key, pk in held.items() if key not in wanted]
    new = [key for key in wanted if key not in held]
    if gone:
        PortableLicense.objects.filter(pk__in=gone).delete()
    PortableLicense.objects.bulk_create(
        [PortableLicense(account=account, license_id=lic, target_id=target) for lic, target in sorted(new)]
    )
    if gone or new:
        events.record(
            "sync.portable_licenses",
            account=account,
            account_name=account.name,
            count=len({lic for lic, _target in wanted}),
        )
    return len(wanted)


def pending_port_completions(account):
    """The request's ``port_completions``: every port made here CSSM has not answered."""
    return [
        {"port_id": c.port_id, "target": c.target_tag, "ported": c.ported}
        for c in PortCompletion.objects.filter(account=account, acknowledged_at__isnull=True).order_by("pk")
    ]


def apply_port_results(account, results, *, now):
    """CSSM's answers to ports sent earlier (``[{port_id, status, reason}]``): each is
    acknowledged; a refused one is recorded (its licenses are then as CSSM's entitlements say)."""
    by_id = {r["port_id"]: r for r in results}
    if not by_id:
        return
    names = None
    for completion in PortCompletion.objects.select_for_update().filter(
        account=account, acknowledged_at__isnull=True, port_id__in=list(by_id)
    ):
        result = by_id[completion.port_id]
        completion.acknowledged_at = now
        if result["status"] == "refused":
            completion.refused = result.get("reason") or "refused"
            if names is None:
                tags = {completion.target_tag} | {p["tag"] for p in completion.ported}
                names = dict(
                    LicenseDefinition.objects.filter(entitlement_tag__in=tags).values_list("entitlement_tag", "name")
                )
            source = completion.ported[0]["tag"] if completion.ported else ""
            events.record(
                "license.port_refused",
                account=account,
                count=sum(p["quantity"] for p in completion.ported),
                tag=names.get(source, source),
                target=names.get(completion.target_tag, completion.target_tag),
                reason=completion.refused,
            )
        completion.save(update_fields=["acknowledged_at", "refused"])


def unacknowledged_adjustments(account):
    """What the synchronization's comparison with CSSM's lines must assume while ports are not
    answered: [(line fields with tag, +quantity / -quantity)], the taken lines and the made ones."""
    out = []
    for completion in PortCompletion.objects.filter(account=account, acknowledged_at__isnull=True).order_by("pk"):
        for p in completion.ported:
            out.append((p, -p["quantity"]))
            out.append(({**p, "tag": completion.target_tag}, p["quantity"]))
    return out


__all__ = [
    "PortLimits",
    "PortPreview",
    "PortResult",
    "portable_targets",
    "billing_and_portability",
    "port_limits",
    "preview_port",
    "port_licenses",
    "apply_cssm_portability",
    "pending_port_completions",
    "apply_port_results",
    "unacknowledged_adjustments",
]
