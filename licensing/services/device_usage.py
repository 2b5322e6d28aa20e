"""License consumption reported by product instances: AUTHORIZE and SLP usage (RUM) reports.

Both are held to the usage bounds first (``usage_bounds.check``): an implausible message is
refused whole before anything is written.

Usage is one ``LicenseUsage`` row per (product instance, license) with a count; a message
changes a product instance's rows with at most one DELETE, one bulk UPDATE and one bulk
INSERT, whatever the number of licenses (database triggers keep the virtual account's running
totals: licensing/migrations/0008_usage_totals.py), and compliance is read with the compliance
service's queries (tier substitution and application redundancy included), whose cost does not
grow with the number of product instances.
"""

import datetime
import functools
import hashlib

from django.db import connection

from core import events

from ..models import DeviceIdentity, LicenseDefinition, LicenseUsage, ProductInstance, RumReport
from . import alert_hooks, alerts, prepared, usage_bounds
from .compliance import IN_COMPLIANCE, positions_and_live_alerts
from .device_registration import epoch_ms, touch
from .prepared import cache_related

RENEW_AUTH_AFTER = datetime.timedelta(days=30)
AUTH_EXPIRES = datetime.timedelta(days=90)
Role = ProductInstance.RedundancyRole


def _export_allowed(pi):
    try:
        return pi.device.export_controlled
    except DeviceIdentity.DoesNotExist:
        return False


def _current_usage(pi):
    """{license_id: (LicenseUsage, export_restricted)} of ``pi``."""
    rows = (
        LicenseUsage.objects.filter(product_instance=pi)
        .select_related("license")
        .only("pk", "count", "license_id", "product_instance_id", "license__export_restricted")
    )
    return {row.license_id: row for row in rows}


# The licenses a message names (by tag) and the usage rows the product instance holds, in one
# statement (it runs for every AUTHORIZE and REPORT_USAGE). {tags} becomes one %s per tag.
_LICENSES_AND_USAGE_SQL = """
SELECT l.id, l.entitlement_tag, l.export_restricted, NULL, NULL
FROM licensing_licensedefinition l WHERE l.entitlement_tag IN ({tags})
UNION ALL
SELECT u.license_id, NULL, l.export_restricted, u.id, u.count
FROM licensing_licenseusage u JOIN licensing_licensedefinition l ON l.id = u.license_id
WHERE u.product_instance_id = %s
"""


def _licenses_and_usage(pi, tags):
    """({tag: LicenseDefinition}, {license_id: LicenseUsage}) for the licenses tagged ``tags`` and
    ``pi``'s usage rows, in one query.

    As ``LicenseDefinition.objects.filter(entitlement_tag__in=tags).only("pk", "entitlement_tag",
    "export_restricted")`` and ``_current_usage(pi)`` give them (each usage row's license loaded
    with its ``export_restricted``).
    """
    tags = sorted(set(tags))
    sql = _LICENSES_AND_USAGE_SQL.format(tags=", ".join(["%s"] * len(tags)) if tags else "NULL")
    with connection.cursor() as cursor:
        prepared.execute(cursor, sql, [*tags, pi.pk])
        rows = cursor.fetchall()
    licenses, current = {}, {}
    for license_id, tag, restricted, usage_id, count in rows:
        restricted = bool(restricted)  # SQLite answers 0 / 1
        if usage_id is None:
            licenses[tag] = LicenseDefinition.from_db(
                connection.alias, ["id", "entitlement_tag", "export_restricted"], [license_id, tag, restricted]
            )
            continue
        row = LicenseUsage.from_db(
            connection.alias, ["id", "product_instance_id", "license_id", "count"], [usage_id, pi.pk, license_id, count]
        )
        cache_related(
            row,
            "license",
            LicenseDefinition.from_db(connection.alias, ["id", "export_restricted"], [license_id, restricted]),
        )
        current[license_id] = row
    return licenses, current


def apply_usage(pi, current, desired, now, *, hook=True):
    """Bring ``pi``'s usage rows from ``current`` ({license_id: LicenseUsage}) to ``desired``
    ({license_id: count}); licenses missing from ``desired`` keep their rows. Returns whether a
    count changed.

    ``hook=False``: the caller checks the Insufficient Licenses of the virtual account itself
    after its transaction (AUTHORIZE, which reads the positions then anyway: ``finish_authorize``).
    """
    gone = [row.pk for lid, row in current.items() if lid in desired and desired[lid] <= 0]
    changed = []
    for lid, row in current.items():
        if desired.get(lid, 0) > 0 and row.count != desired[lid]:
            row.count, row.updated_at = desired[lid], now
            changed.append(row)
    # In license order: the usage triggers lock counter rows (licensing_usagetotal) as they go, and
    # one order for every writer keeps two devices of one shard from waiting on each other in a cycle.
    new = [
        LicenseUsage(product_instance=pi, license_id=lid, count=count, updated_at=now)
        for lid, count in sorted(desired.items())
        if count > 0 and lid not in current
    ]
    changed.sort(key=lambda row: row.license_id)
    if gone:
        LicenseUsage.objects.filter(pk__in=gone).delete()
    if changed:
        LicenseUsage.objects.bulk_update(changed, ["count", "updated_at"])
    if new:
        prepared.insert_rows(new)
    moved = bool(gone or changed or new)
    if moved and hook:
        # Insufficient Licenses of the virtual account, on commit (nothing when the counts stayed).
        cached = ProductInstance.virtual_account.is_cached(pi)
        alert_hooks.usage_changed(pi.account_id, [pi.virtual_account if cached else pi.virtual_account_id])
    return moved


def _group_key(ids):
    key = "app:" + ",".join(sorted(ids))
    return key if len(key) <= 255 else "app:sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _redundancy(pi, redundancy):
    """(role, group, fail-over?) from the message's ``app_redundancy`` (see docs/protocol.md)."""
    if redundancy is None:
        return Role.NONE, "", False
    role = Role.ACTIVE if redundancy["app_role"] == "ACTIVE" else Role.STANDBY
    if redundancy["peers"]:
        return role, _group_key({redundancy["app_id"], *(peer["id"] for peer in redundancy["peers"])}), False
    # No peers: an application that declares itself ACTIVE after being STANDBY took over (fail-over).
    group = pi.redundancy_group or _group_key({redundancy["app_id"]})
    failover = role == Role.ACTIVE and pi.redundancy_role == Role.STANDBY and bool(pi.redundancy_group)
    return role, group, failover


def authorize(cert, message, *, now):
    """AUTHORIZE: set the product instance's usage to what it asks for; answer per license."""
    pi = cert.product_instance
    va = pi.virtual_account
    usage_bounds.check(message, account=pi.account, virtual_account=va, identifier=pi.display_name)
    f = message.fields
    redundancy = f["app_redundancy"]
    role, group, failover = _redundancy(pi, redundancy)
    was_redundant_active = (pi.redundancy_role, pi.redundancy_group) == (Role.ACTIVE, group)
    touch(pi, now, redundancy_role=role, redundancy_group=group)
    if failover:
        ProductInstance.objects.filter(
            account_id=pi.account_id, redundancy_group=group, redundancy_role=Role.ACTIVE
        ).exclude(pk=pi.pk).update(redundancy_role=Role.STANDBY)
    requested = f["entitlements"]
    licenses, current = _licenses_and_usage(pi, [e["tag"] for e in requested])
    export_ok = _export_allowed(pi)
    desired: dict[int, int] = {}  # {license id: count}
    answers = []
    for entry in requested:
        lic = licenses.get(entry["tag"])
        answer = {"tag": entry["tag"], "count": entry["count"]}
        answers.append(answer)
        if lic is None:
            answer.update(status="NOT_AUTHORIZED", reason="UNKNOWN_TAG")
            continue
        answer["license_id"] = lic.pk
        if lic.export_restricted and not export_ok:
            granted = current[lic.pk].count if lic.pk in current else 0
            if entry["count"] > granted:
                answer.update(status="NOT_AUTHORIZED", reason="EXPORT_NOT_ALLOWED")
            continue
        desired[lic.pk] = desired.get(lic.pk, 0) + entry["count"]
    for lid, row in current.items():
        if lid not in desired and not (row.license.export_restricted and not export_ok):
            desired[lid] = 0  # not asked for any more: released
    moved = apply_usage(pi, current, desired, now, hook=False)
    if role == Role.ACTIVE and redundancy and redundancy["peers"] and not was_redundant_active:
        standbys = [peer["name"] or peer["id"] for peer in redundancy["peers"] if peer["role"] == "STANDBY"]
        if standbys:
            events.record(
                "device.added_redundant",
                virtual_account=va,
                identifier=pi.display_name,
                pool_name=va.name,
                ha_list=", ".join(standbys),
            )
    events.record("device.connected", virtual_account=va, identifier=pi.display_name, pool_name=va.name)
    payload = {
        "status": "SUCCESS",
        "authorizations": answers,
        "renew_auth_after": epoch_ms(now + RENEW_AUTH_AFTER),
        "auth_expires": epoch_ms(now + AUTH_EXPIRES),
    }
    return cert.authority, payload, functools.partial(finish_authorize, pi, va, answers, payload, moved, now)


def finish_authorize(pi, va, answers, payload, moved, now):
    """The second half of AUTHORIZE, once its transaction has committed: the positions of the
    virtual account decide each license's answer, and, when the message changed a count, the
    Insufficient Licenses alerts of the virtual account (one read of its live alerts; a write only
    when they differ).

    After the commit, not inside it: the positions then include every write committed before
    them, this message's too, so of two devices that take the last licenses at the same moment
    the later reader sees both, and its check opens the alert that neither transaction alone
    would have shown (read inside the transactions, each would miss the other's uncommitted
    usage). It is also the one read of the positions for both purposes.
    """
    # The positions and, in the same statement, the live shortage alerts the check compares them with.
    positions, live = positions_and_live_alerts(va, account_id=pi.account_id, as_of=now.date(), **alerts.LIVE_SHORTAGES)
    by_license = {p.license_id: p for p in positions}
    for answer in answers:
        lid = answer.pop("license_id", None)
        if "status" in answer:
            continue
        position = by_license.get(lid)
        in_compliance = answer["count"] == 0 or (position is not None and position.status == IN_COMPLIANCE)
        answer["status"] = "AUTHORIZED" if in_compliance else "OUT_OF_COMPLIANCE"
    compliant = all(answer["status"] == "AUTHORIZED" for answer in answers)
    payload["compliance"] = "IN_COMPLIANCE" if compliant else "OUT_OF_COMPLIANCE"
    if moved:
        alerts.check_shortages(pi.account_id, va, positions, now=now, live=live)


def _seen_reports(account_id, device_key, report_ids):
    """The report ids of ``report_ids`` this device already sent (one query, written once per arity)."""
    ids = sorted(set(report_ids))
    sql = (
        "SELECT report_id FROM licensing_rumreport WHERE account_id = %s AND device_key = %s "
        f"AND report_id IN ({', '.join(['%s'] * len(ids))})"
    )
    with connection.cursor() as cursor:
        prepared.execute(cursor, sql, [account_id, device_key, *ids])
        return {report_id for (report_id,) in cursor.fetchall()}


def store_reports(pi, message, *, now):
    """Store the message's RUM reports (each once per device) and apply their usage; returns the acks."""
    reports = message.fields["reports"]
    ids = [report["report_id"] for report in reports]
    seen = _seen_reports(pi.account_id, message.device_key, ids)
    acks, new = [], []
    for report in reports:
        if report["report_id"] in seen:
            acks.append({"report_id": report["report_id"], "status": "DUPLICATE"})
            continue
        seen.add(report["report_id"])
        acks.append({"report_id": report["report_id"], "status": "ACK"})
        new.append(report)
    if new:
        prepared.insert_rows(
            [
                RumReport(
                    account_id=pi.account_id,
                    product_instance=pi,
                    device_key=message.device_key,
                    report_id=r["report_id"],
                    header=r["header"],
                    payload=r["payload"],
                    signing_type=r["signing_type"],
                    signature_key=r["key"],
                    signature_value=r["value"],
                    received_at=now,
                    utility_mode=r["utility_mode"],
                )
                for r in new
            ]
        )
        licenses, current = _licenses_and_usage(pi, {line["tag"] for r in new for line in r["usage"]})
        # export-restricted usage changes only through export authorization (unless the token allowed it)
        if not _export_allowed(pi):
            licenses = {tag: lic for tag, lic in licenses.items() if not lic.export_restricted}
        desired = {}
        for r in new:  # in the order sent: a later report's count wins
            for line in r["usage"]:
                lic = licenses.get(line["tag"])
                if lic is not None:
                    desired[lic.pk] = line["count"]
        if desired:
            apply_usage(pi, current, desired, now)
        events.record(
            "device.usage_reported",
            virtual_account=pi.virtual_account,
            identifier=pi.display_name,
            pool_name=pi.virtual_account.name,
            count=len(new),
        )
    return acks


def report_usage(cert, message, *, now):
    """REPORT_USAGE from a registered product instance."""
    pi = cert.product_instance
    usage_bounds.check(message, account=pi.account, virtual_account=pi.virtual_account, identifier=pi.display_name)
    touch(pi, now)
    return cert.authority, {"status": "SUCCESS", "acks": store_reports(pi, message, now=now)}


__all__ = ["authorize", "report_usage", "store_reports", "apply_usage", "RENEW_AUTH_AFTER", "AUTH_EXPIRES"]
