"""SLP RUM (Resource Utilization Measurement) usage reports, signed by the device.

The shape the server reads (docs/protocol.md, REPORT_USAGE) is ``{"header": {"type": "rum",
"version": "1"}, "payload": "<JSON string>", "signature": {...}}`` whose payload has
``report_id``, ``start_time``, ``end_time`` (epoch ms) and ``usage`` ([{tag, count}]). The
payload also carries the fields of the Smart Licensing Using Policy RUM report devices
produce (``asset_identification``, ``meta``, ``measurements``), so the stored report, kept
byte-for-byte for CSSM, says which asset and instance measured what. The report is signed like
every message (ECDSA P-256 over the exact payload string) with the device's ID certificate key.
"""

from . import crypto
from .envelope import VERSION, dumps

METRIC = "ENTITLEMENT"


def _measurement(tag, count, start_ms, end_ms):
    return {
        "log_time": end_ms,
        "metric_name": METRIC,
        "start_time": start_ms,
        "end_time": end_ms,
        "sample_interval": max(1, (end_ms - start_ms) // 1000),
        "num_samples": 1,
        "meta": {
            "entitlement_tag": tag,
            "termination_reason": "CurrentUsageRequested",
            "status": "In Use" if count else "Not In Use",
        },
        "value": {"type": "COUNT", "value": str(count)},
    }


def build_report(*, identity, product_instance_id, usage, start_ms, end_ms, report_id, key, key_id):
    """One signed RUM report for ``usage`` ([{tag, count}]) measured from ``start_ms`` to ``end_ms``."""
    meta = {"report_id": report_id}
    if identity.software_version:
        meta["software_version"] = identity.software_version
    payload = {
        "report_id": report_id,
        "start_time": start_ms,
        "end_time": end_ms,
        "usage": usage,
        "asset_identification": {
            "asset": {"name": identity.software_tag},
            "instance": {"sudi": identity.sudi, "product_instance_identifier": str(product_instance_id)},
        },
        "meta": meta,
        "measurements": [_measurement(u["tag"], u["count"], start_ms, end_ms) for u in usage],
    }
    payload_text = dumps(payload)
    return {
        "header": {"type": "rum", "version": VERSION},
        "payload": payload_text,
        "signature": {
            "signing_type": crypto.SIGNING_TYPE,
            "key": key_id,
            "value": crypto.sign(key, payload_text.encode("utf-8")),
        },
    }
