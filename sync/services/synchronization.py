"""Synchronization with CSSM: build the request, send it (online) or hand it out (manual), apply the response.

``create_sync_request`` builds a standard (delta) or full request and keeps what it sent on the
``SyncRecord``: it becomes the watermark only when the response that answers it is applied, so a
lost response changes nothing. ``apply_response`` verifies the response (every rejection of the
guide), then applies it in ONE transaction with the account's sync state row locked, so a
process killed mid-apply leaves nothing half-applied. What a request carries and what applying a
response changes: docs/synchronization.md, "Synchronization".
"""

import datetime
import hashlib
import itertools
import logging
from collections import defaultdict

from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from core import events, pki
from core.errors import ServiceError
from licensing.models import (
    DeviceRequest,
    Entitlement,
    LicenseDefinition,
    LicenseHierarchy,
    LicenseReservation,
    LicenseUsage,
    LocalAccount,
    ProductInstance,
    RumReport,
    UpgradeCompletion,
    VirtualAccount,
)
from licensing.services import alerts as alert_service
from licensing.services import conversion as conversion_service
from licensing.services import cssm_alerts, device_requests, ports, third_party_keys
from licensing.services import reservations as reservation_service
from sync import metrics
from sync.documents.bodies import PRODUCT_INSTANCE
from sync.documents.build import build
from sync.documents.canonical import CanonicalList, canonical_text
from sync.documents.document import format_timestamp, new_id
from sync.documents.parse import parse
from sync.documents.rejections import (
    MANUAL,
    NETWORK,
    AlreadyProcessed,
    Corrupted,
    Rejection,
    WrongAccount,
)
from sync.documents.schema import SchemaError
from sync.documents.serialize import filename, serialize
from sync.documents.signing import sign
from sync.documents.verify import verify

from ..models import AccountSync, SyncedProductInstance, SyncRecord
from . import client
from .common import (
    SyncFailed,
    certificate_not_after,
    fail_record,
    is_processed,
    lock_state,
    new_record,
    onprem_of,
    privacy,
    require_sync_admin,
    state_of,
)

logger = logging.getLogger(__name__)
STANDARD, FULL = "standard", "full"
# An online request whose answer never arrived (a worker killed after posting it) is sent again,
# unchanged, within this time: CSSM answers a request id it has seen with the same response.
RESEND_WITHIN = datetime.timedelta(hours=1)
MAX_RUM_REPORTS = 100_000
SYNCABLE = (LocalAccount.Status.ACTIVE, LocalAccount.Status.DEACTIVATED)


def _ts(value):
    return format_timestamp(value) if value else None


def identifier(pi):
    return conversion_service.device_identifier(pi)


# --- Building the request -------------------------------------------------------------------------

_PI_COLUMNS = (
    "pk",
    "udi_pid",
    "udi_serial_number",
    "registered_at",
    "last_contact_at",
    "product_name",
    "hostname",
    "redundancy_group",
    "redundancy_role",
    "virtual_account__name",
    "device__product_type",
    "device__software_tag",
    "device__ip_address",
    "device__mac_address",
)
CHUNK = 5000  # rows per round trip of the server-side cursors


def _redundancy_groups(account):
    """{group: [(pk, hostname, identifier, role), ...]} of the peers with a redundancy role (a few rows)."""
    groups = defaultdict(list)
    for pk, hostname, pid, serial, group, role in (
        ProductInstance.objects.filter(account=account)
        .exclude(redundancy_group="")
        .exclude(redundancy_role=ProductInstance.RedundancyRole.NONE)
        .order_by("pk")
        .values_list("pk", "hostname", "udi_pid", "udi_serial_number", "redundancy_group", "redundancy_role")
    ):
        groups[group].append((pk, hostname, f"PID:{pid} SN:{serial}", role))
    return groups


def _usage_by_instance(account):
    """``(product instance pk, [{tag, count}, ...])`` in pk order, streamed."""
    rows = (
        LicenseUsage.objects.filter(product_instance__account=account)
        .order_by("product_instance_id", "license__entitlement_tag")
        .values_list("product_instance_id", "license__entitlement_tag", "count")
        .iterator(chunk_size=CHUNK)
    )
    current: int | None = None
    lines: list[dict[str, str | int]] = []
    for pi_id, tag, count in rows:
        if pi_id != current:
            if current is not None:
                yield current, lines
            current, lines = pi_id, []
        lines.append({"tag": tag, "count": count})
    if current is not None:
        yield current, lines


def iter_product_instance_entries(account, hidden):
    """Every product instance of ``account`` as a request entry: ``(identifier, entry, digest)``, in pk order.

    Streamed (two server-side cursors merged by pk, plain rows rather than model instances) so
    that a 250,000-instance account is never held in memory whole. ``last_contact_at`` is in
    the entry but not in the digest: a device's hourly contact alone does not make it "changed".
    """
    groups = _redundancy_groups(account)
    usage = _usage_by_instance(account)
    next_usage = next(usage, None)
    rows = (
        ProductInstance.objects.filter(account=account)
        .order_by("pk")
        .values_list(*_PI_COLUMNS)
        .iterator(chunk_size=CHUNK)
    )
    none = ProductInstance.RedundancyRole.NONE
    for (
        pk,
        pid,
        serial,
        registered_at,
        last_contact_at,
        product_name,
        hostname,
        group,
        role,
        va_name,
        product_type,
        software_tag,
        ip_address,
        mac_address,
    ) in rows:
        while next_usage is not None and next_usage[0] < pk:
            next_usage = next(usage, None)
        licenses = []
        if next_usage is not None and next_usage[0] == pk:
            licenses = next_usage[1]
        ident = f"PID:{pid} SN:{serial}"  # conversion_service.device_identifier, from the row
        entry = {
            "identifier": ident,
            "virtual_account": va_name,
            "udi_pid": pid,
            "udi_serial_number": serial,
            "registered_at": _ts(registered_at),
            "licenses": licenses,
        }
        if product_name:
            entry["product_name"] = product_name
        if product_type:
            entry["product_type"] = product_type
        if software_tag:
            entry["software_tag"] = software_tag
        if ip_address and not hidden["ip_address"]:
            entry["ip_address"] = ip_address
        if mac_address and not hidden["mac_address"]:
            entry["mac_address"] = mac_address
        if hostname and not hidden["hostname"]:
            entry["hostname"] = hostname
        if group and role != none:
            entry["redundancy"] = {
                "application": group[:255],
                "role": role.upper(),
                "peers": [
                    {
                        "name": (peer_host if peer_host and not hidden["hostname"] else peer_ident),
                        "role": peer_role.upper(),
                        "id": str(peer_pk),
                        "product_instance_identifier": peer_ident,
                    }
                    for peer_pk, peer_host, peer_ident, peer_role in groups[group]
                    if peer_pk != pk
                ][:64],
            }
        digest = hashlib.sha256(canonical_text(entry).encode("utf-8")).hexdigest()
        entry["last_contact_at"] = _ts(last_contact_at)
        yield ident, entry, digest


def product_instance_entries(account, hidden):
    """``{identifier: (entry, digest)}`` of every product instance (small accounts, tests)."""
    return {ident: (entry, digest) for ident, entry, digest in iter_product_instance_entries(account, hidden)}


def _license_usage(account):
    """In use per (license, local VA), summed by the database."""
    rows = (
        LicenseUsage.objects.filter(product_instance__account=account)
        .values_list("license__entitlement_tag", "product_instance__virtual_account__name")
        .annotate(total=Sum("count"))
        .order_by()
    )
    return [{"tag": tag, "virtual_account": va, "in_use": total} for tag, va, total in sorted(rows)]


def _reservations(account):
    """The request's ``reservations``: every license reserved for a product instance of the account."""
    rows = (
        LicenseReservation.objects.filter(product_instance__account=account)
        .select_related("license", "product_instance__virtual_account")
        .order_by("product_instance__udi_pid", "product_instance__udi_serial_number", "license__entitlement_tag", "pk")
    )
    return [
        {
            "product_instance": identifier(row.product_instance),
            "virtual_account": row.product_instance.virtual_account.name,
            "tag": row.license.entitlement_tag,
            "count": row.quantity,
            "end_date": row.end_date.isoformat() if row.end_date else None,
        }
        for row in rows
    ]


def _export_requests(account):
    out = []
    for request in device_requests.pending_requests(account):
        action = "authorize" if request.kind == DeviceRequest.Kind.EXPORT_AUTHORIZE else "return"
        for index, item in enumerate(request.items):
            out.append(
                {
                    "request_id": f"{request.poll_id}#{index}",
                    "product_instance": identifier(request.product_instance),
                    "tag": str(item.get("tag", ""))[:512] or "-",
                    "count": max(1, int(item.get("count", 1))),
                    "action": action,
                }
            )
    return out


def _dlc_requests(account):
    conversions = list(conversion_service.pending_conversions(account).select_related("virtual_account"))
    names = {item["name"] for c in conversions for item in c.licenses if not item.get("tag")}
    tag_by_name = dict(LicenseDefinition.objects.filter(name__in=names).values_list("name", "entitlement_tag"))
    out = []
    for c in conversions:
        licenses = []
        for item in c.licenses:
            line = {
                "name": item["name"][:255],
                "tag": item.get("tag") or tag_by_name.get(item["name"]) or item["name"],
                "count": item["count"],
            }
            if item.get("pak"):
                line["pak"] = item["pak"]
            licenses.append(line)
        out.append(
            {
                "request_id": f"dlc-{c.pk}",
                "product_instance": c.device_identifier,
                "device_identifier": c.device_identifier,
                "product_family": c.product_family,
                "virtual_account": c.virtual_account.name,
                "licenses": licenses,
            }
        )
    return out, [c.pk for c in conversions]


RUM_REF = "rum-"


def _rum_reports(account):
    """The request's ``rum_reports``: every report of the account CSSM has not acknowledged yet."""
    rows = (
        RumReport.objects.filter(account=account, synced_at__isnull=True)
        .order_by("pk")
        .values_list(
            "pk",
            "report_id",
            "product_instance__udi_pid",
            "product_instance__udi_serial_number",
            "product_instance__virtual_account__name",
            "received_at",
            "utility_mode",
            "payload",
            "signing_type",
            "signature_key",
            "signature_value",
        )[:MAX_RUM_REPORTS]
    )
    return [
        {
            "ref": f"{RUM_REF}{pk}",
            "report_id": report_id,
            "product_instance": f"PID:{pid} SN:{serial}" if pid is not None else None,
            "virtual_account": va_name,
            "received_at": format_timestamp(received_at),
            "utility_mode": utility_mode,
            "payload": payload,
            "signature": {"signing_type": signing_type, "key": key, "value": value},
        }
        for pk, report_id, pid, serial, va_name, received_at, utility_mode, payload, signing_type, key, value in rows
    ]


def signer_certificates(state):
    """The ID certificate, then CSSM's issuers (the root left out: CSSM has it)."""
    root = pki.fingerprint(pki.load_certificate(state.root_pem)) if state.root_pem else None
    issuers = [
        pem
        for pem in pki.split_pem_chain(state.chain_pem)
        if root is None or pki.fingerprint(pki.load_certificate(pem)) != root
    ]
    return [state.id_certificate_pem, *issuers]


def _check_can_sync(account, state):
    if state is None or not state.is_registered:
        raise ServiceError(f"The local account “{account.name}” is not registered with Cisco Smart Software Manager.")
    if account.status not in SYNCABLE:
        raise ServiceError(
            f"The local account “{account.name}” is {account.get_status_display()}; it cannot be synchronized."
        )
    if state.id_certificate_not_after and state.id_certificate_not_after <= timezone.now():
        raise ServiceError(
            "Re-registration Required: On-Prem was not synchronized for 365 days and must be "
            "re-registered with Cisco Smart Software Manager"
        )


@transaction.atomic
def create_sync_request(account, *, actor, full=False, mode=SyncRecord.Mode.MANUAL, now=None):
    """A new signed SyncRequest: ``(document, text, record)``. Full when asked or when CSSM demanded it."""
    require_sync_admin(actor)
    now = now or timezone.now()
    account = LocalAccount.objects.get(pk=account.pk)
    state = state_of(account)
    _check_can_sync(account, state)
    sync_type = FULL if full or state.full_sync_required else STANDARD
    hidden = privacy(state)
    acknowledged = (
        {}
        if sync_type == FULL
        else dict(SyncedProductInstance.objects.filter(account=account).values_list("identifier", "digest"))
    )
    # Each entry is checked and kept only as its canonical JSON text (CanonicalList): the
    # signature and the YAML are made from those texts; what CSSM will hold is {identifier: digest}.
    instances = CanonicalList(PRODUCT_INSTANCE, "body.product_instances")
    sent_pis, present = {}, set()
    try:
        for ident, entry, digest in iter_product_instance_entries(account, hidden):
            if sync_type != FULL:
                present.add(ident)
                if acknowledged.get(ident) == digest:
                    continue
            instances.append(entry)
            sent_pis[ident] = digest
    except SchemaError as exc:
        raise ServiceError(f"The synchronization request cannot be built: {exc}") from None
    removed = sorted(set(acknowledged) - present)
    del acknowledged, present
    rum = _rum_reports(account)
    dlc, conversion_ids = _dlc_requests(account)
    body = {
        "last_response_id": state.last_response_id or None,
        "data_privacy": hidden,
        "product_instances": instances,
        "removed_product_instances": removed,
        "license_usage": _license_usage(account),
        "export_requests": _export_requests(account),
        "dlc_requests": dlc,
        "rum_reports": rum,
    }
    completions = _upgrade_completions(account)
    if completions:
        body["upgrade_completions"] = completions
    port_completions = ports.pending_port_completions(account)
    if port_completions:
        body["port_completions"] = port_completions
    acceptance = cssm_alerts.agreement_acceptance(account)
    if acceptance is not None:
        body["agreement_acceptance"] = acceptance
    reserved = _reservations(account)
    if reserved:
        body["reservations"] = reserved
    try:
        document = build("SyncRequest", onprem_of(account, state), body, sync_type=sync_type, now=now)
        sign(document, pki.load_private_key(state.id_private_key), signer_certificates(state))
    except SchemaError as exc:
        raise ServiceError(f"The synchronization request cannot be built: {exc}") from None
    text = serialize(document)
    rum_ids = [int(entry["ref"].removeprefix(RUM_REF)) for entry in rum]
    sent = {"pis": sent_pis, "removed": removed, "rum": rum_ids, "dlc": conversion_ids}
    record = new_record(
        account,
        kind=SyncRecord.Kind.SYNC,
        mode=mode,
        sync_type=sync_type,
        request_id=document.document_id,
        actor=actor,
        sent=sent,
        now=now,
    )
    _store_request_text(record, text)
    conversion_service.mark_sent(conversion_service.pending_conversions(account).filter(pk__in=conversion_ids), now)
    if rum_ids:
        RumReport.objects.filter(pk__in=rum_ids).update(sent_at=now)
    if mode == SyncRecord.Mode.MANUAL:
        events.record(
            "sync.request_file",
            actor=actor,
            account=account,
            sync_type=sync_type,
            account_name=account.name,
            user_name=getattr(actor, "username", "") or "system",
        )
    return document, text, record


LARGE_TEXT = 8 * 1024 * 1024  # characters; also the size of the pieces a large request text is sent in


def _store_request_text(record, text):
    """``record.request_text = text``, saved (kept for resending an online request unchanged).

    A full request for a large account is ~100 MB, and as one query parameter the driver would
    hold three or four copies of it at once (docs/synchronization.md, "Large accounts"). On
    PostgreSQL a large text goes in pieces into a temporary large object, turned into the
    column's text by the server, then unlinked, all in the caller's transaction.
    """
    if connection.vendor != "postgresql" or len(text) <= LARGE_TEXT:
        SyncRecord.objects.filter(pk=record.pk).update(request_text=text)
    else:
        table, column, pk = (
            connection.ops.quote_name(name)
            for name in (SyncRecord._meta.db_table, "request_text", SyncRecord._meta.pk.column)
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT lo_from_bytea(0, %s)", [text[:LARGE_TEXT].encode("utf-8")])
            oid = cursor.fetchone()[0]
            offset = len(text[:LARGE_TEXT].encode("utf-8"))
            for start in range(LARGE_TEXT, len(text), LARGE_TEXT):
                piece = text[start : start + LARGE_TEXT].encode("utf-8")
                cursor.execute("SELECT lo_put(%s, %s, %s)", [oid, offset, piece])
                offset += len(piece)
            cursor.execute(
                f"UPDATE {table} SET {column} = convert_from(lo_get(%s), 'UTF8') WHERE {pk} = %s", [oid, record.pk]
            )
            cursor.execute("SELECT lo_unlink(%s)", [oid])
    record.request_text = text


def request_file(account, *, actor, full=False):
    """Manual Synchronization > Download File: ``(file name, YAML text)``."""
    document, text, _record = create_sync_request(account, actor=actor, full=full)
    return filename(document), text


# --- Applying the response ------------------------------------------------------------------------


def _failed(account, record, message, *, mode, actor, detail=""):
    """History, event, metric for a failed synchronization (in their own transaction)."""
    logger.warning("synchronization of %s failed: %s (%s)", account.name, message, detail)
    with transaction.atomic():
        if record is None:
            record = new_record(account, kind=SyncRecord.Kind.SYNC, mode=mode, request_id=new_id(), actor=actor)
        fail_record(record, message)
        AccountSync.objects.filter(account=account).update(last_sync_result=SyncRecord.Result.FAILED)
        events.record("sync.failed", actor=actor, account=account, display_name=account.name)
    metrics.sync_result(mode, "failed")


def apply_response(account, data, *, actor, name=None, mode=MANUAL, now=None):
    """Verify a SyncResponse (YAML bytes) and apply it in one transaction; returns the record.

    A rejection raises ``SyncFailed`` with the guide's message for ``mode`` and changes nothing
    but the history (a failed entry) and the event log.
    """
    require_sync_admin(actor)
    now = now or timezone.now()
    record_mode = SyncRecord.Mode.MANUAL if mode == MANUAL else SyncRecord.Mode.ONLINE
    account = LocalAccount.objects.get(pk=account.pk)
    state = state_of(account)
    _check_can_sync(account, state)
    record = None
    try:
        document = parse(data, name=name, mode=mode, expected_kinds=("SyncResponse",))
        # Not the request's text nor what it sent (a full request for 250,000 PIs: ~100 + ~25 MB).
        record = (
            SyncRecord.objects.filter(account=account, kind=SyncRecord.Kind.SYNC, request_id=document.in_reply_to)
            .defer("request_text", "sent")
            .first()
        )
        verify(
            document,
            trusted_roots=[state.root_pem],
            mode=mode,
            now=now,
            expected_uid=state.uid,
            is_processed=is_processed,
            expected_id_public_key=pki.load_private_key(state.id_private_key).public_key(),
        )
        if record is None:
            raise WrongAccount("the response answers no request of this local account", mode=mode)
        if record.result != SyncRecord.Result.PENDING:
            raise AlreadyProcessed("the request was answered before", mode=mode)
        if record.sync_type != document.sync_type:
            raise Corrupted("the response's type is not the request's", mode=mode)
        with transaction.atomic():
            removed = _apply(account, document, record.pk, now=now, mode=mode)
    except Rejection as exc:
        # Online, the request is spent; a rejected upload leaves it pending (the right file may follow).
        spent = mode == NETWORK and record is not None and record.result == SyncRecord.Result.PENDING
        _failed(account, record if spent else None, exc.message, mode=record_mode, actor=actor, detail=exc.detail)
        raise SyncFailed(exc.message, code=exc.code, detail=exc.detail) from None
    if removed:
        metrics.sync_result(record_mode, "failed")
        raise SyncFailed(removed, code="onprem_removed")
    metrics.sync_result(record_mode, "success")
    return SyncRecord.objects.get(pk=record.pk)


def _apply(account, document, record_pk, *, now, mode):
    state = lock_state(account)
    record = SyncRecord.objects.select_for_update().defer("request_text").get(pk=record_pk)
    if record.result != SyncRecord.Result.PENDING or is_processed(document.document_id):
        raise AlreadyProcessed("applied by another process meanwhile", mode=mode)
    body = document.body
    onprem_name = body["onprem_name"]
    cssm_alerts.apply_cssm_state(
        account,
        onprem_name=onprem_name,
        onprem_status=body.get("onprem_status", "registered"),
        agreement=body.get("agreement"),
        notices=body.get("notices"),
        now=now,
    )
    if body.get("onprem_status") == "removed":
        return _apply_removed(account, state, document, record, now)
    acknowledge_upgrade_completions(account, body.get("upgrades") or [], now)
    # Before the comparison of lines: a port CSSM answered no longer adjusts it.
    ports.apply_port_results(account, body.get("port_results") or [], now=now)
    entitlement_problems = apply_entitlements(account, body["entitlements"])
    upgrade_problems, _upgraded = apply_upgrades(account, body.get("upgrades") or [], now)
    entitlement_problems += upgrade_problems
    _apply_export_decisions(account, body["export_decisions"], now)
    _apply_dlc_decisions(account, body["dlc_decisions"], now)
    _apply_returned_reservations(account, body.get("returned_reservations") or [], now)
    if "third_party_keys" in body:
        third_party_keys.apply_cssm_keys(account, body["third_party_keys"], now=now)
    if "portable_licenses" in body:
        ports.apply_cssm_portability(account, body["portable_licenses"])
    _advance_watermark(account, record, now)
    _acknowledge_rum_reports(record, body.get("rum_acknowledgements") or [], now)
    if body["onprem_name"] != (state.onprem_name or account.name):
        events.record(
            "sync.onprem_renamed",
            account=account,
            account_name=account.name,
            old_name=state.onprem_name or account.name,
            new_name=body["onprem_name"],
        )
    state.onprem_name = body["onprem_name"]
    state.id_certificate_pem = body["id_certificate"]
    state.chain_pem = "".join(pem if pem.endswith("\n") else pem + "\n" for pem in body["certificate_chain"])
    state.id_certificate_not_after = certificate_not_after(body["id_certificate"])
    state.last_response_id = document.document_id
    state.last_sync_at = now
    state.last_sync_result = SyncRecord.Result.SUCCESS
    state.last_sync_mode = record.mode
    state.last_sync_type = record.sync_type
    state.full_sync_required = body["full_sync_required"]
    state.product_instances_on_cssm = body["product_instances_on_cssm"]
    state.save()
    LocalAccount.objects.filter(pk=account.pk).update(export_control_allowed=body["export_control_allowed"])
    record.result, record.response_id, record.finished_at = SyncRecord.Result.SUCCESS, document.document_id, now
    record.message = "Synchronization Successful" + (
        "; Cisco Smart Software Manager asks for a full synchronization next." if body["full_sync_required"] else ""
    )
    record.save(update_fields=["result", "response_id", "finished_at", "message"])
    if entitlement_problems:
        events.record("sync.entitlements_failed", account=account)
    events.record("sync.succeeded", account=account)
    alert_service.sync_overdue(account, now, now=now)
    cssm_alerts.sync_calendar(account, now, onprem_name=onprem_name, now=now)
    alert_service.recompute_alerts(account, as_of=now)
    return None


def _apply_removed(account, state, document, record, now):
    """CSSM removed this On-Prem: nothing of the response is applied (no licenses, no certificate,
    no watermark); the request is answered (its response id is spent) and failed with the alert's
    text. Returns that text."""
    message = events.render("alert.onprem_removed", onprem_name=document.body["onprem_name"])
    state.full_sync_required = True
    state.last_sync_result = SyncRecord.Result.FAILED
    state.save(update_fields=["full_sync_required", "last_sync_result"])
    record.result, record.response_id, record.finished_at = SyncRecord.Result.FAILED, document.document_id, now
    record.message = message[:4000]
    record.save(update_fields=["result", "response_id", "finished_at", "message"])
    events.record("sync.failed", account=account, display_name=account.name)
    return message


def _line_key(license_id, line):
    return (
        license_id,
        line["license_type"],
        line["start_date"] or None,
        None if line["license_type"] == "perpetual" else line["end_date"],
        line["subscription_id"],
        line["sku"],
        line["source"],
    )


def _row_key(row):
    return (
        row.license_id,
        row.license_type,
        row.start_date.isoformat() if row.start_date else None,
        row.end_date.isoformat() if row.end_date else None,
        row.subscription_id,
        row.sku,
        row.source,
    )


def _upsert_licenses(lines):
    tags = {line["tag"] for line in lines}
    known = {lic.entitlement_tag: lic for lic in LicenseDefinition.objects.filter(entitlement_tag__in=tags)}
    for line in lines:
        values = {
            "name": line["name"][:255],
            "description": line["description"],
            "product_family": line["product_family"][:255],
            "export_restricted": line["export_restricted"],
            "billing_type": line["billing_type"],
        }
        lic = known.get(line["tag"])
        if lic is None:
            known[line["tag"]] = LicenseDefinition.objects.create(entitlement_tag=line["tag"][:255], **values)
        elif any(getattr(lic, field) != value for field, value in values.items()):
            for field, value in values.items():
                setattr(lic, field, value)
            lic.save(update_fields=list(values))
    parents = {p for line in lines for p in line["parents"]} - set(known)
    known.update({lic.entitlement_tag: lic for lic in LicenseDefinition.objects.filter(entitlement_tag__in=parents)})
    edges = {
        (known[p].pk, known[line["tag"]].pk)
        for line in lines
        for p in line["parents"]
        if p in known and p != line["tag"]
    }
    existing = set(
        LicenseHierarchy.objects.filter(lower_id__in=[known[t].pk for t in tags]).values_list("higher_id", "lower_id")
    )
    LicenseHierarchy.objects.bulk_create([LicenseHierarchy(higher_id=h, lower_id=lo) for h, lo in edges - existing])
    return known


def apply_entitlements(account, lines):
    """Make the account's entitlements what CSSM says (CSSM is their source of truth).

    Lines are compared by what identifies a purchase (license, type, dates, subscription id,
    SKU, source), summed over all the account's local VAs (a transfer splits a line between
    VAs). Less than before: the difference is removed, first from the Default local VA, then
    from the other VAs. More: the difference is added to the Default local VA. Returns the
    lines that could not be applied (reported with the guide's "One or more entitlements
    failed to synchronize with CSSM").
    """
    default_va = VirtualAccount.objects.select_for_update().get(account=account, is_default=True)
    licenses = _upsert_licenses(lines)
    desired: defaultdict[tuple, int] = defaultdict(int)  # {_line_key: quantity}
    problems = []
    for line in lines:
        if line["license_type"] != "perpetual" and not line["end_date"] and line["license_type"] != "demo":
            problems.append(line["line_id"])
            continue
        desired[_line_key(licenses[line["tag"]].pk, line)] += line["quantity"]
    # An upgrade completed here that CSSM does not hold yet (its completion goes in the next
    # request): its line keeps its licenses, and the licenses it replaced stay replaced.
    unacknowledged = list(UpgradeCompletion.objects.filter(account=account, acknowledged_at__isnull=True))
    if unacknowledged:
        replaced_tags = {r["tag"] for c in unacknowledged for r in c.replaced}
        ids = dict(
            LicenseDefinition.objects.filter(entitlement_tag__in=replaced_tags).values_list("entitlement_tag", "pk")
        )
        for completion in unacknowledged:
            for r in completion.replaced:
                key = _line_key(ids.get(r["tag"]), r)
                if key in desired:
                    desired[key] = max(0, desired[key] - r["quantity"])
    # Licenses ported here that CSSM has not answered for yet: the lines taken stay taken, the
    # lines made stay (licensing.services.ports).
    adjustments = ports.unacknowledged_adjustments(account)
    if adjustments:
        ids = dict(
            LicenseDefinition.objects.filter(entitlement_tag__in={f["tag"] for f, _q in adjustments}).values_list(
                "entitlement_tag", "pk"
            )
        )
        for fields, delta in adjustments:
            key = _line_key(ids.get(fields["tag"]), fields)
            if delta > 0:
                desired[key] += delta
            elif key in desired:
                desired[key] = max(0, desired[key] + delta)
    rows = defaultdict(list)
    # Not compared: an upgrade still pending (its licenses come in ``upgrades``, apply_upgrades),
    # the copies Change Virtual Account Assignment made (they go with their original), and the
    # lines a System Admin added by hand (source Manual, licensing.services.license_lines): CSSM
    # never sent them (the wire format has no "manual" source), so they are neither removed nor
    # topped up here; they go only by Remove Licenses.
    compared = (
        Entitlement.objects.select_for_update()
        .filter(virtual_account__account=account, quantity__gt=0, copied_from__isnull=True)
        .exclude(upgrade_id__in=[c.upgrade_id for c in unacknowledged])
        .exclude(source=Entitlement.Source.MANUAL)
    )
    for row in compared.order_by("pk"):
        rows[_row_key(row)].append(row)
    # Removals first, from the Default local VA, then the others.
    for key, held in rows.items():
        excess = sum(row.quantity for row in held) - desired.get(key, 0)
        for row in sorted(held, key=lambda r: (r.virtual_account_id != default_va.pk, r.pk)):
            if excess <= 0:
                break
            if row.quantity <= excess:
                excess -= row.quantity
                row.delete()
            else:
                Entitlement.objects.filter(pk=row.pk).update(quantity=F("quantity") - excess)
                excess = 0
    for key, quantity in desired.items():
        missing = quantity - sum(row.quantity for row in rows.get(key, []))
        if missing <= 0:
            continue
        existing = next((row for row in rows.get(key, []) if row.virtual_account_id == default_va.pk and row.pk), None)
        if existing is not None and Entitlement.objects.filter(pk=existing.pk).exists():
            Entitlement.objects.filter(pk=existing.pk).update(quantity=F("quantity") + missing)
            continue
        license_id, license_type, start, end, subscription_id, sku, source = key
        Entitlement(
            license_id=license_id,
            virtual_account=default_va,
            license_type=license_type,
            quantity=missing,
            start_date=datetime.date.fromisoformat(start) if start else None,
            end_date=datetime.date.fromisoformat(end) if end else None,
            subscription_id=subscription_id,
            sku=sku,
            source=source,
        ).save()
    return problems


def acknowledge_upgrade_completions(account, upgrades, now):
    """Completions of upgrades CSSM no longer lists as pending are acknowledged (it holds them)."""
    UpgradeCompletion.objects.filter(account=account, acknowledged_at__isnull=True).exclude(
        upgrade_id__in=[u["upgrade_id"] for u in upgrades]
    ).update(acknowledged_at=now)


def apply_upgrades(account, upgrades, now):
    """The upgrades CSSM lists as pending ("Upgrade Pending"): a new one becomes a line of the
    Default local VA with its licenses pending (and the guide's License Upgrade event); one no
    longer listed is completed (its completion, sent by this On-Prem, is acknowledged) or was
    withdrawn by CSSM (its pending line goes). Returns the upgrades that could not be applied."""
    problems: list[str] = []
    listed = {u["upgrade_id"]: u for u in upgrades}
    existing = {
        line.upgrade_id: line
        for line in Entitlement.objects.select_for_update()
        .filter(virtual_account__account=account)
        .exclude(upgrade_id="")
        .select_related("license", "virtual_account")
    }
    completed = set(UpgradeCompletion.objects.filter(account=account).values_list("upgrade_id", flat=True))
    touched = set()
    for upgrade_id, line in existing.items():
        if upgrade_id not in listed and line.pending_quantity > 0:
            events.record(
                "license.upgrade_withdrawn",
                virtual_account=line.virtual_account,
                count=line.pending_quantity,
                tag=line.license.name,
                pool_name=line.virtual_account.name,
            )
            touched.add(line.virtual_account_id)
            line.delete()
    new = [u for u in upgrades if u["upgrade_id"] not in existing and u["upgrade_id"] not in completed]
    if not new:
        return problems, touched
    licenses = _upsert_licenses(new)
    replaced = {
        lic.entitlement_tag: lic
        for lic in LicenseDefinition.objects.filter(entitlement_tag__in={u["replaces"] for u in new})
    }
    default_va = VirtualAccount.objects.get(account=account, is_default=True)
    for upgrade in new:
        bad_dates = upgrade["license_type"] not in ("perpetual", "demo") and not upgrade["end_date"]
        if upgrade["replaces"] not in replaced or upgrade["replaces"] == upgrade["tag"] or bad_dates:
            problems.append(upgrade["upgrade_id"])
            continue
        perpetual = upgrade["license_type"] == "perpetual"
        line = Entitlement(
            license=licenses[upgrade["tag"]],
            virtual_account=default_va,
            license_type=upgrade["license_type"],
            quantity=0,
            pending_quantity=upgrade["quantity"],
            start_date=datetime.date.fromisoformat(upgrade["start_date"]) if upgrade["start_date"] else None,
            end_date=None if perpetual or not upgrade["end_date"] else datetime.date.fromisoformat(upgrade["end_date"]),
            subscription_id=upgrade["subscription_id"],
            sku=upgrade["sku"],
            source=upgrade["source"],
            upgrade_id=upgrade["upgrade_id"],
            upgrade_from=replaced[upgrade["replaces"]],
        )
        line.save()
        events.record(
            "license.upgrade",
            virtual_account=default_va,
            count=upgrade["quantity"],
            tag=line.license.name,
            type=line.get_license_type_display().lower(),
            pool_name=default_va.name,
        )
        touched.add(default_va.pk)
    return problems, touched


def _upgrade_completions(account):
    """The request's ``upgrade_completions``: every upgrade completed here CSSM has not acknowledged."""
    return [
        {"upgrade_id": c.upgrade_id, "replaced": c.replaced}
        for c in UpgradeCompletion.objects.filter(account=account, acknowledged_at__isnull=True).order_by("pk")
    ]


def _apply_export_decisions(account, decisions, now):
    by_request = defaultdict(list)
    for decision in decisions:
        poll_id, _sep, _index = decision["request_id"].partition("#")
        by_request[poll_id].append(decision)
    pending = {
        r.poll_id: r
        for r in DeviceRequest.objects.filter(
            account=account, status=DeviceRequest.Status.PENDING, poll_id__in=list(by_request)
        )
    }
    for poll_id, parts in by_request.items():
        request = pending.get(poll_id)
        if request is None or len(parts) < len(request.items):
            continue  # already decided, or not every line answered: it stays pending
        granted = all(part["status"] == "authorized" for part in parts)
        result = device_requests.RESULTS[request.kind][0 if granted else 1]
        reason = "; ".join(sorted({part["reason"] for part in parts if part["reason"]}))
        device_requests.decide_request(request, result=result, message=reason[:2000], now=now)


def _apply_dlc_decisions(account, decisions, now):
    ids = {}
    for decision in decisions:
        prefix, _sep, pk = decision["request_id"].partition("-")
        if prefix == "dlc" and pk.isdigit():
            ids[int(pk)] = decision
    for conversion in conversion_service.pending_conversions(account).filter(pk__in=list(ids)):
        decision = ids[conversion.pk]
        conversion_service.decide_conversion(
            conversion,
            decision["status"] == "migrate-success",
            reason=decision["reason"],
            already_converted=decision["status"] == "already-converted",
            now=now,
        )


def _apply_returned_reservations(account, returned, now):
    """CSSM returned the reserved licenses of these product instances: each reservation ends, with
    its alert and event (``reservations.return_to_smart_account``). An instance this On-Prem no
    longer knows, or one with nothing reserved (a response seen twice), changes nothing."""
    wanted = {entry["product_instance"] for entry in returned}
    if not wanted:
        return
    holders = ProductInstance.objects.filter(account=account, reservations__isnull=False).distinct()
    for pi in holders.select_related("virtual_account__account"):
        if identifier(pi) in wanted:
            reservation_service.return_to_smart_account(pi, now=now)


def _advance_watermark(account, record, now):
    """What the answered request carried is now what CSSM holds."""
    sent = record.sent or {}
    pis = sent.get("pis", {})
    if record.sync_type == FULL:
        SyncedProductInstance.objects.filter(account=account).delete()
    else:
        SyncedProductInstance.objects.filter(
            account=account, identifier__in=list(sent.get("removed", [])) + list(pis)
        ).delete()
    # In batches built as they go: 250,000 model instances at once would be ~250 MB.
    rows = iter(pis.items())
    while batch := [
        SyncedProductInstance(account=account, identifier=ident, digest=digest)
        for ident, digest in itertools.islice(rows, 2000)
    ]:
        SyncedProductInstance.objects.bulk_create(batch)


def _acknowledge_rum_reports(record, refs, now):
    """The RUM reports CSSM names in its response, among those its request carried, are acknowledged;
    the others stay as they are and go in the next request again."""
    sent = set((record.sent or {}).get("rum", []))
    ids = [int(ref.removeprefix(RUM_REF)) for ref in refs if ref.startswith(RUM_REF) and ref[len(RUM_REF) :].isdigit()]
    acknowledged = [pk for pk in ids if pk in sent]
    if acknowledged:
        RumReport.objects.filter(pk__in=acknowledged, synced_at__isnull=True).update(synced_at=now)


# --- Online -----------------------------------------------------------------------------------------


def _resendable(account, sync_type, now):
    return (
        SyncRecord.objects.filter(
            account=account,
            kind=SyncRecord.Kind.SYNC,
            mode=SyncRecord.Mode.ONLINE,
            result=SyncRecord.Result.PENDING,
            sync_type=sync_type,
            started_at__gte=now - RESEND_WITHIN,
        )
        .exclude(request_text="")
        .order_by("-started_at")
        .first()
    )


def synchronize(account, *, actor, full=False, now=None):
    """Standard / Full Synchronization Now (online). Returns the record; raises SyncFailed."""
    require_sync_admin(actor)
    now = now or timezone.now()
    account = LocalAccount.objects.get(pk=account.pk)
    state = state_of(account)
    _check_can_sync(account, state)
    sync_type = FULL if full or state.full_sync_required else STANDARD
    record = _resendable(account, sync_type, now)
    if record is not None:
        text = record.request_text
    else:
        # Online requests whose answer never came and that are too old to send again are spent.
        SyncRecord.objects.filter(
            account=account, kind=SyncRecord.Kind.SYNC, mode=SyncRecord.Mode.ONLINE, result=SyncRecord.Result.PENDING
        ).exclude(started_at__gte=now - RESEND_WITHIN, sync_type=sync_type).update(
            result=SyncRecord.Result.FAILED,
            finished_at=now,
            message="No response from Cisco Smart Software Manager was applied for this request.",
        )
        _document, text, record = create_sync_request(
            account, actor=actor, full=full, mode=SyncRecord.Mode.ONLINE, now=now
        )
    try:
        content = client.post_document(client.SYNC_PATH, text)
    except client.CssmUnavailable as exc:
        _failed(account, record, exc.message, mode=SyncRecord.Mode.ONLINE, actor=actor, detail=exc.code)
        raise SyncFailed(exc.message, code=exc.code or "unavailable") from None
    return apply_response(account, content, actor=actor, mode=NETWORK)


__all__ = [
    "create_sync_request",
    "request_file",
    "apply_response",
    "apply_entitlements",
    "synchronize",
    "product_instance_entries",
    "iter_product_instance_entries",
    "STANDARD",
    "FULL",
]
