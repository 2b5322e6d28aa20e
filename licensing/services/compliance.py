"""License compliance: purchased, in use, borrowed / lent between tiers, balance and status.

``license_positions`` answers for every (local virtual account, license) of a local account in
two queries, whatever the number of product instances: the virtual accounts, then one statement
(``_NUMBERS_SQL``) with purchased, in use (from the trigger-kept totals), the license names and
the tier hierarchy. Substitution between tiers then runs in memory over these few numbers. The
rules (application redundancy, Failed to Renew, the order of substitution): docs/licensing-engine.md,
"Compliance".
"""

import dataclasses
import datetime
from collections import defaultdict, deque
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_noop

from ..models import ProductInstance, VirtualAccount
from . import prepared

# English: the API returns them; pages show them translated ({% translate row.status %}).
IN_COMPLIANCE = gettext_noop("In Compliance")
OUT_OF_COMPLIANCE = gettext_noop("Out Of Compliance")
FROM_HIGHER_TIER = "Substitution From Higher Tier"
TO_LOWER_TIER = "Substitution To Lower Tier"


@dataclass(frozen=True)
class Substitution:
    """``quantity`` licenses of ``substituted_license`` (higher tier) standing in for ``license``.

    The same substitution appears on both positions: on the lower tier's as "From Higher Tier",
    on the higher tier's as "To Lower Tier" (the API's ``licenseSubstitutions``).
    """

    license_id: int
    license: str
    substituted_license_id: int
    substituted_license: str
    quantity: int
    substitution_type: str


@dataclass
class LicensePosition:
    """One license in one local virtual account on ``as_of``."""

    virtual_account_id: int
    virtual_account: str
    license_id: int
    license: str
    entitlement_tag: str
    purchased: int = 0
    pending_quantity: int = 0
    in_use: int = 0
    # Reserved for product instances of the virtual account (licensing.services.reservations).
    reserved: int = 0
    borrowed: int = 0
    lent: int = 0
    substitutions: list = field(default_factory=list)

    @property
    def consumed(self):
        """In use plus reserved: what the purchased (and borrowed) quantity must cover."""
        return self.in_use + self.reserved

    @property
    def available(self):
        """The balance: purchased + borrowed - lent - in use - reserved (the API's ``available``)."""
        return self.purchased + self.borrowed - self.lent - self.in_use - self.reserved

    @property
    def shortage(self):
        return max(0, -self.available)

    @property
    def status(self):
        return OUT_OF_COMPLIANCE if self.available < 0 else IN_COMPLIANCE


@dataclass
class LicenseTotal:
    """One license summed over the local virtual accounts of a local account."""

    license_id: int
    license: str
    entitlement_tag: str
    purchased: int = 0
    in_use: int = 0
    reserved: int = 0
    borrowed: int = 0
    lent: int = 0
    available: int = 0
    shortage: int = 0
    out_of_compliance_virtual_accounts: list = field(default_factory=list)

    @property
    def status(self):
        return OUT_OF_COMPLIANCE if self.out_of_compliance_virtual_accounts else IN_COMPLIANCE


@dataclass
class AccountCompliance:
    as_of: datetime.date
    licenses: list

    @property
    def status(self):
        return OUT_OF_COMPLIANCE if any(t.status == OUT_OF_COMPLIANCE for t in self.licenses) else IN_COMPLIANCE

    @property
    def out_of_compliance(self):
        return [t for t in self.licenses if t.status == OUT_OF_COMPLIANCE]


# A product instance that has not connected for this many days has Failed to Renew.
RENEWAL_PERIOD_DAYS = 90


def today():
    return timezone.now().date()


def license_positions(account, *, as_of=None, virtual_accounts=None):
    """The license positions of ``account`` on ``as_of`` (default: today, UTC).

    ``virtual_accounts`` limits the answer to some of the account's local virtual accounts
    (e.g. those a user may see). Returns positions ordered by virtual account name, then
    license name; a license appears in a virtual account when it has valid lines or usage there.
    """
    as_of = as_of or today()
    vas = VirtualAccount.objects.filter(account=account)
    if virtual_accounts is not None:
        vas = vas.filter(pk__in=[getattr(va, "pk", va) for va in virtual_accounts])
    return _positions(dict(vas.values_list("pk", "name")), as_of)


def _positions(va_names, as_of):
    """The positions of the virtual accounts ``va_names`` ({id: name}) on ``as_of``."""
    if not va_names:
        return []
    by_va, edges = _unsubstituted(va_names, as_of)
    return _substituted(by_va, edges)


def _unsubstituted(va_names, as_of, alerts=None):
    """({va id: {license id: position}} before substitution, the hierarchy's edges): one query.

    ``alerts`` ((account id, alert type, statuses, out)): the same statement also reads those live
    alerts of the virtual accounts, into ``out`` as {key: (message, action due is null)}."""
    by_va: defaultdict[int, dict[int, LicensePosition]] = defaultdict(dict)  # {va id: {license id: position}}
    edges: list[tuple[int, int]] = []  # (va id, license id) of the hierarchy rows
    rows = _numbers(va_names, as_of, alerts=alerts[:3] if alerts else None)
    for kind, va_id, license_id, name, tag, lines, bought, pending, used, reserved in rows:
        if kind == "h":
            edges.append((va_id, license_id))
            continue
        if kind == "a":  # a live alert: key, message, whether it has no action due
            alerts[3][name] = (tag, bool(lines))
            continue
        used = int(used) if used > 0 else 0  # the rules can leave a (virtual account, license) below zero
        reserved = int(reserved or 0)
        if not lines and not used and not reserved:
            continue  # neither valid lines, usage nor reservations: not a position
        by_va[va_id][license_id] = LicensePosition(
            virtual_account_id=va_id,
            virtual_account=va_names[va_id],
            license_id=license_id,
            license=name,
            entitlement_tag=tag,
            purchased=int(bought),
            pending_quantity=int(pending),
            in_use=used,
            reserved=reserved,
        )
    return by_va, edges


def _substituted(by_va, edges):
    """Substitution between tiers in each virtual account (in memory); the positions, sorted."""
    if by_va:
        hierarchy = _Hierarchy(edges)
        for positions in by_va.values():
            hierarchy.substitute(positions)

    return sorted(
        (position for positions in by_va.values() for position in positions.values()),
        key=lambda p: (p.virtual_account, p.virtual_account_id, p.license, p.license_id),
    )


def positions_before_and_after(va_names, changes, *, as_of=None):
    """Read only: the positions of ``va_names`` ({id: name}) as they are and as they would be if
    the purchased quantities changed by ``changes`` ({(va id, license id): +/- quantity}), the
    substitution between tiers computed again on the changed numbers. One query, nothing written.
    Returns ({(va id, license id): position} before, the same after); a license a virtual account
    does not hold yet appears in "after" (and as an empty position in "before")."""
    as_of = as_of or today()
    by_va, edges = _unsubstituted(va_names, as_of)
    names = {lid: (p.license, p.entitlement_tag) for positions in by_va.values() for lid, p in positions.items()}
    after_by_va: defaultdict[int, dict[int, LicensePosition]] = defaultdict(dict)
    for va_id, positions in by_va.items():
        for license_id, position in positions.items():
            after_by_va[va_id][license_id] = dataclasses.replace(position, substitutions=[])
    for (va_id, license_id), delta in changes.items():
        position = after_by_va[va_id].get(license_id)
        if position is None:
            name, tag = names.get(license_id, ("", ""))
            position = after_by_va[va_id][license_id] = LicensePosition(
                virtual_account_id=va_id,
                virtual_account=va_names[va_id],
                license_id=license_id,
                license=name,
                entitlement_tag=tag,
            )
        position.purchased += delta

    def keyed(positions):
        return {(p.virtual_account_id, p.license_id): p for p in positions}

    before = keyed(_substituted(by_va, edges))
    after = keyed(_substituted(after_by_va, edges))
    for key, position in after.items():
        if key not in before:
            before[key] = dataclasses.replace(position, purchased=0, borrowed=0, lent=0, substitutions=[])
    return before, after


def positions_and_live_alerts(virtual_account, *, account_id, alert_type, statuses, as_of=None):
    """The positions of one virtual account and, read by the same statement, its live alerts of
    ``alert_type`` in ``statuses``: (positions, {key: (message, action due is null)}). AUTHORIZE's
    answer and its Insufficient Licenses check in one round trip (alerts.check_shortages)."""
    live: dict[str, tuple[str, bool]] = {}
    by_va, edges = _unsubstituted(
        {virtual_account.pk: virtual_account.name}, as_of or today(), alerts=(account_id, alert_type, statuses, live)
    )
    return _substituted(by_va, edges), live


def positions_of(virtual_accounts, *, as_of=None):
    """The positions of some virtual accounts given as {id: name} (the names known: no query for them)."""
    return _positions(dict(virtual_accounts), as_of or today())


def virtual_account_positions(virtual_account, *, as_of=None):
    """The license positions of one local virtual account (the instance's name: no query for it)."""
    return _positions({virtual_account.pk: virtual_account.name}, as_of or today())


def account_compliance(account, *, as_of=None, virtual_accounts=None):
    """The account-level summary: each license summed over the local virtual accounts.

    Borrowing happens inside a virtual account only (licenses are pooled per virtual account),
    so a shortage in one virtual account is not covered by a surplus in another: the account
    is out of compliance for a license when any of its virtual accounts is.
    """
    as_of = as_of or today()
    totals: dict[int, LicenseTotal] = {}
    for position in license_positions(account, as_of=as_of, virtual_accounts=virtual_accounts):
        total = totals.get(position.license_id)
        if total is None:
            total = totals[position.license_id] = LicenseTotal(
                license_id=position.license_id, license=position.license, entitlement_tag=position.entitlement_tag
            )
        total.purchased += position.purchased
        total.in_use += position.in_use
        total.reserved += position.reserved
        total.borrowed += position.borrowed
        total.lent += position.lent
        total.available += position.available
        total.shortage += position.shortage
        if position.status == OUT_OF_COMPLIANCE:
            total.out_of_compliance_virtual_accounts.append(position.virtual_account)
    return AccountCompliance(as_of=as_of, licenses=sorted(totals.values(), key=lambda t: (t.license, t.license_id)))


def _renewal_cutoff(as_of):
    """Last contact at or before this moment means Failed to Renew on ``as_of``."""
    moment = (
        timezone.now()
        if as_of == today()
        else datetime.datetime.combine(as_of, datetime.time.max, tzinfo=datetime.timezone.utc)
    )
    return moment - datetime.timedelta(days=RENEWAL_PERIOD_DAYS)


# In use per (virtual account, license): the totals, less the STANDBY usage left out, less the
# usage of product instances that failed to renew that the redundancy rule did not leave out
# already. Written as SQL because it runs for every AUTHORIZE: the ORM spent more time building
# this query than the database spends answering it. {vas} becomes one %s per virtual account.
_IN_USE_SQL = """
SELECT va, lic, SUM(n) AS n FROM (
    SELECT virtual_account_id AS va, license_id AS lic, count AS n
    FROM licensing_usagetotal WHERE virtual_account_id IN ({vas})
    UNION ALL
    SELECT virtual_account_id, license_id, -count
    FROM licensing_redundancyexclusion WHERE virtual_account_id IN ({vas})
    UNION ALL
    SELECT pi.virtual_account_id, u.license_id, -u.count
    FROM licensing_licenseusage u
    JOIN licensing_productinstance pi ON pi.id = u.product_instance_id
    JOIN licensing_licensedefinition l ON l.id = u.license_id
    WHERE pi.virtual_account_id IN ({vas})
      -- COALESCE(last contact, registration) <= cutoff, in the terms index pi_va_last_contact serves
      AND (pi.last_contact_at <= %s OR (pi.last_contact_at IS NULL AND pi.registered_at <= %s))
      AND NOT l.export_restricted
      AND NOT (pi.redundancy_role = %s AND pi.redundancy_group <> '' AND EXISTS (
          SELECT 1 FROM licensing_redundancyexclusion r
          WHERE r.account_id = pi.account_id AND r.redundancy_group = pi.redundancy_group
            AND r.license_id = u.license_id))
) parts
GROUP BY va, lic
"""

# Everything the positions need, in one statement (it runs for every AUTHORIZE): per (virtual
# account, license) the number of lines valid on the day, their purchased and pending quantities,
# the in-use of _IN_USE_SQL, the quantity reserved for the product instances of the virtual account
# (licensing_licensereservation, expired terms included), and the license's name and tag (rows of
# kind 'p'); then the tier hierarchy's edges (kind 'h': higher id, lower id in the second and third
# columns).
_NUMBERS_SQL = """
SELECT 'p', g.va, g.lic, l.name, l.entitlement_tag, g.lines, g.purchased, g.pending, g.in_use, g.reserved FROM (
    SELECT va, lic, SUM(lines) AS lines, SUM(purchased) AS purchased, SUM(pending) AS pending,
           SUM(in_use) AS in_use, SUM(reserved) AS reserved
    FROM (
        SELECT virtual_account_id AS va, license_id AS lic, 1 AS lines, quantity AS purchased,
               pending_quantity AS pending, 0 AS in_use, 0 AS reserved
        FROM licensing_entitlement
        WHERE virtual_account_id IN ({vas})
          AND (start_date IS NULL OR start_date <= %s) AND (end_date IS NULL OR end_date >= %s)
        UNION ALL
        SELECT va, lic, 0, 0, 0, n, 0 FROM ({in_use}) in_use_parts
        UNION ALL
        SELECT pi.virtual_account_id, r.license_id, 0, 0, 0, 0, r.quantity
        FROM licensing_licensereservation r
        JOIN licensing_productinstance pi ON pi.id = r.product_instance_id
        WHERE pi.virtual_account_id IN ({vas})
    ) numbers
    GROUP BY va, lic
) g
JOIN licensing_licensedefinition l ON l.id = g.lic
UNION ALL
SELECT 'h', higher_id, lower_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM licensing_licensehierarchy
"""

# Appended to _NUMBERS_SQL by positions_and_live_alerts: kind 'a', the live alerts of one type of
# the virtual accounts (key, message, 1 when it has no action due).
_ALERTS_SQL = """
UNION ALL
SELECT 'a', virtual_account_id, NULL, "key", message, CASE WHEN action_due IS NULL THEN 1 ELSE 0 END,
       NULL, NULL, NULL, NULL
FROM licensing_alert
WHERE account_id = %s AND virtual_account_id IN ({vas}) AND alert_type = %s AND status IN ({statuses})
"""


def _in_use_params(va_ids, as_of):
    cutoff = connection.ops.adapt_datetimefield_value(_renewal_cutoff(as_of))
    return [*va_ids, *va_ids, *va_ids, cutoff, cutoff, ProductInstance.RedundancyRole.STANDBY]


def _in_use(va_ids, as_of):
    """{(va_id, license_id): in use}, counting an ACTIVE/STANDBY pair's shared license once and
    not counting the non-restricted licenses of product instances that failed to renew.

    One query, whose cost does not grow with the number of product instances: the running
    totals of every usage row, less the STANDBY usage the redundancy rule leaves out (both kept
    by triggers: ``UsageTotal``, ``RedundancyExclusion``), less the usage of the product
    instances that failed to renew (found by index: few) that the first rule did not already
    leave out.
    """
    va_ids = [int(va_id) for va_id in va_ids]
    sql = _IN_USE_SQL.format(vas=", ".join(["%s"] * len(va_ids)))
    with connection.cursor() as cursor:
        cursor.execute(sql, _in_use_params(va_ids, as_of))
        return {(va_id, license_id): int(count) for va_id, license_id, count in cursor.fetchall() if count > 0}


def _numbers(va_ids, as_of, alerts=None):
    """The rows of _NUMBERS_SQL for ``va_ids`` on ``as_of``: (kind, va, license, name, tag, lines,
    purchased, pending, in use, reserved) per position, ("h", higher, lower, None...) per hierarchy
    edge; with ``alerts`` ((account id, alert type, statuses)), ("a", va, None, key, message, no due,
    None...) per live alert of that type."""
    va_ids = [int(va_id) for va_id in va_ids]
    vas = ", ".join(["%s"] * len(va_ids))
    sql = _NUMBERS_SQL.format(vas=vas, in_use=_IN_USE_SQL.format(vas=vas))
    day = connection.ops.adapt_datefield_value(as_of)
    params = [*va_ids, day, day, *_in_use_params(va_ids, as_of), *va_ids]
    if alerts is not None:
        account_id, alert_type, statuses = alerts
        sql += _ALERTS_SQL.format(vas=vas, statuses=", ".join(["%s"] * len(statuses)))
        params += [account_id, *va_ids, alert_type, *statuses]
    with connection.cursor() as cursor:
        prepared.execute(cursor, sql, params)
        return cursor.fetchall()


class _Hierarchy:
    """The tier hierarchy (edges higher -> lower), walked to find who can stand in for whom."""

    def __init__(self, edges):
        self.parents = defaultdict(set)
        for higher, lower in edges:
            if higher != lower:
                self.parents[lower].add(higher)
        self._ancestors = {}

    def ancestors(self, license_id):
        """{higher tier: distance} for every license that can stand in for ``license_id``.

        Breadth-first, so a cycle in bad catalogue data cannot loop and the nearest tier has
        the smallest distance.
        """
        if license_id not in self._ancestors:
            found, queue = {}, deque([(license_id, 0)])
            while queue:
                node, distance = queue.popleft()
                for parent in self.parents.get(node, ()):
                    if parent != license_id and parent not in found:
                        found[parent] = distance + 1
                        queue.append((parent, distance + 1))
            self._ancestors[license_id] = found
        return self._ancestors[license_id]

    def substitute(self, positions):
        """Cover shortfalls in one virtual account ({license_id: LicensePosition}) with surpluses."""
        surplus = {lid: p.purchased - p.consumed for lid, p in positions.items() if p.purchased > p.consumed}
        if not surplus:
            return
        borrowers = [p for p in positions.values() if p.consumed > p.purchased and self.ancestors(p.license_id)]
        borrowers.sort(key=lambda p: (len(self.ancestors(p.license_id)), p.license, p.license_id))
        for borrower in borrowers:
            need = borrower.consumed - borrower.purchased
            lenders = sorted(
                (lid for lid in self.ancestors(borrower.license_id) if surplus.get(lid, 0) > 0),
                key=lambda lid: (self.ancestors(borrower.license_id)[lid], positions[lid].license, lid),
            )
            for lender_id in lenders:
                if need == 0:
                    break
                quantity = min(need, surplus[lender_id])
                surplus[lender_id] -= quantity
                need -= quantity
                lender = positions[lender_id]
                borrower.borrowed += quantity
                lender.lent += quantity
                borrower.substitutions.append(_substitution(borrower, lender, quantity, FROM_HIGHER_TIER))
                lender.substitutions.append(_substitution(borrower, lender, quantity, TO_LOWER_TIER))


def _substitution(lower, higher, quantity, substitution_type):
    return Substitution(
        license_id=lower.license_id,
        license=lower.license,
        substituted_license_id=higher.license_id,
        substituted_license=higher.license,
        quantity=quantity,
        substitution_type=substitution_type,
    )
