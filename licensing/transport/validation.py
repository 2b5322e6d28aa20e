"""Field checks of the device protocol's payloads (pure: no database), see docs/protocol.md.

``check(envelope)`` returns a ``Message`` with clean values or raises ``DeviceError`` with
``MALFORMED`` (or ``BAD_SIGNATURE`` for a wrong ``signing_type``), naming what is wrong.
"""

import hashlib
from dataclasses import dataclass, field

from core import pki

from ..services.device_errors import BAD_SIGNATURE, MALFORMED, DeviceError
from .envelope import VERSION, UnstorableText, strict_json

TYPES = (
    "REGISTER",
    "RENEW_ID",
    "AUTHORIZE",
    "DEREGISTER",
    "REPORT_USAGE",
    "EXPORT_AUTHORIZE",
    "EXPORT_RETURN",
    "CONVERT",
    "POLL",
    "GET_THIRD_PARTY_KEY",
)
MAX_TEXT = 255
MAX_COUNT = 1_000_000
SUDI_OPTIONAL = ("udi_vid", "uuid", "suvi", "host_identifier", "mac_address")
DETAILS = ("hostname", "ip_address", "product_name", "product_type", "agent_version")


@dataclass
class Message:
    type: str
    timestamp_ms: int
    nonce: str
    sudi: dict
    software_tag: str
    device_key: str  # SHA-256 of the UDI: the scope of nonces and RUM report ids
    fields: dict = field(default_factory=dict)


def _bad(text):
    raise DeviceError(MALFORMED, text)


def _text(payload, name, *, required=False, max_length=MAX_TEXT, allow_empty=False):
    value = payload.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > max_length or (not value and not allow_empty):
        _bad(f"“{name}” must be a non-empty string of at most {max_length} characters.")
    return value


def _udi_text(sudi, name):
    """A UDI part (PID, serial number): it names the device in its certificate's subject, the
    inventory and the event log, so only printable characters (``str.isprintable``: letters,
    digits, punctuation, symbols, marks and the space, in any script) — no control, format or
    unassigned code points that would hide or disguise what the name says."""
    value = _text(sudi, name, required=True)
    if not value.isprintable():
        _bad(f"“{name}” must hold printable characters only (no control or format characters).")
    return value


def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        _bad(f"“{name}” must be an integer from 0 to {MAX_COUNT}.")
    return value


def _list(payload, name, *, minimum, maximum):
    value = payload.get(name)
    if not isinstance(value, list) or not minimum <= len(value) <= maximum:
        _bad(f"“{name}” must be a list of {minimum} to {maximum} items.")
    return value


def _entitlements(payload, *, minimum, maximum):
    items = []
    for item in _list(payload, "entitlements", minimum=minimum, maximum=maximum):
        if not isinstance(item, dict):
            _bad("Each entitlement must be an object {tag, count}.")
        items.append({"tag": _text(item, "tag", required=True), "count": _count(item.get("count"), "count")})
    return items


def _redundancy(payload):
    value = payload.get("app_redundancy")
    if value is None:
        return None
    if not isinstance(value, dict):
        _bad("“app_redundancy” must be an object.")
    role = value.get("app_role")
    if role not in ("ACTIVE", "STANDBY"):
        _bad("“app_redundancy.app_role” must be ACTIVE or STANDBY.")
    peers = value.get("peers", [])
    if not isinstance(peers, list) or len(peers) > 16:
        _bad("“app_redundancy.peers” must be a list of at most 16 peers.")
    clean_peers = []
    for peer in peers:
        if not isinstance(peer, dict):
            _bad("Each peer must be an object.")
        clean_peers.append(
            {
                "name": _text(peer, "name"),
                "role": _text(peer, "role"),
                "id": _text(peer, "id", required=True),
                "product_instance_identifier": _text(peer, "product_instance_identifier"),
            }
        )
    return {
        "application_name": _text(value, "application_name"),
        "app_role": role,
        "app_id": _text(value, "app_id", required=True),
        "peers": clean_peers,
    }


def _rum_reports(payload):
    reports = []
    for report in _list(payload, "reports", minimum=1, maximum=100):
        if not isinstance(report, dict):
            _bad("Each report must be an object {header, payload, signature}.")
        header, inner, signature = report.get("header"), report.get("payload"), report.get("signature")
        if not isinstance(header, dict) or header.get("type") != "rum":
            _bad("Each report needs a header with type “rum”.")
        if not isinstance(inner, str) or not isinstance(signature, dict):
            _bad("Each report needs a payload string and a signature object.")
        signing = (signature.get("signing_type"), signature.get("key"), signature.get("value"))
        if not all(isinstance(part, str) and len(part) <= 4096 for part in signing):
            _bad("A report signature needs signing_type, key and value strings.")
        try:
            document = strict_json(inner)
        except UnstorableText as exc:
            _bad(f"A report payload is refused: {exc}")
        except (ValueError, RecursionError):
            document = None
        if not isinstance(document, dict):
            _bad("A report payload must be a JSON object.")
        report_id = document.get("report_id")
        if isinstance(report_id, int) and not isinstance(report_id, bool):
            report_id = str(report_id)
        if not isinstance(report_id, str) or not 1 <= len(report_id) <= 128:
            _bad("A report payload needs a report_id (string or integer, at most 128 characters).")
        usage = document.get("usage")
        if not isinstance(usage, list) or len(usage) > 500:
            _bad("A report payload needs a usage list (at most 500 items).")
        lines = []
        for line in usage:
            if not isinstance(line, dict):
                _bad("Each usage line must be an object {tag, count}.")
            lines.append({"tag": _text(line, "tag", required=True), "count": _count(line.get("count"), "count")})
        utility_mode = document.get("utility_mode", False)
        if not isinstance(utility_mode, bool):
            _bad("A report payload's utility_mode must be true or false.")
        reports.append(
            {
                "header": header,
                "payload": inner,
                "signing_type": signing[0],
                "key": signing[1],
                "value": signing[2],
                "report_id": report_id,
                "usage": lines,
                "utility_mode": utility_mode,
            }
        )
    return reports


def _conversions(payload):
    items = []
    for item in _list(payload, "licenses", minimum=1, maximum=50):
        if not isinstance(item, dict):
            _bad("Each license to convert must be an object {name, count}.")
        count = _count(item.get("count"), "count")
        if count < 1:
            _bad("Each license to convert needs a count of at least 1.")
        items.append(
            {
                "name": _text(item, "name", required=True),
                "count": count,
                "tag": _text(item, "tag"),
                "pak": _text(item, "pak"),
            }
        )
    return items


def _tags(payload):
    """GET_THIRD_PARTY_KEY's optional ``tags``: the licenses whose keys are wanted (absent: all)."""
    if payload.get("tags") is None:
        return []
    tags = []
    for tag in _list(payload, "tags", minimum=1, maximum=50):
        if not isinstance(tag, str) or not 1 <= len(tag) <= MAX_TEXT:
            _bad(f"Each of “tags” must be a non-empty string of at most {MAX_TEXT} characters.")
        tags.append(tag)
    return tags


def _id_token(payload):
    token = payload.get("id_token")
    if not isinstance(token, str) or not 1 <= len(token) <= 2048:
        _bad("“id_token” must be the registration token (a string).")
    return token


def _csr(payload):
    try:
        return pki.load_csr(payload.get("csr"))
    except pki.PkiError as exc:
        if payload.get("csr") is None:
            _bad("“csr” is required.")
        raise DeviceError(BAD_SIGNATURE, str(exc)) from exc


def check(envelope, *, allowed_types=TYPES):
    """The clean message in ``envelope`` (an ``envelope.Envelope``)."""
    if envelope.version != VERSION:
        _bad(f"Unsupported header.version “{envelope.version[:20]}” (this server speaks “{VERSION}”).")
    if envelope.type not in allowed_types:
        _bad(f"Unknown message type “{envelope.type[:40]}”.")
    if envelope.signing_type != pki.SIGNING_TYPE:
        raise DeviceError(BAD_SIGNATURE, f"signing_type must be “{pki.SIGNING_TYPE}”.")
    p = envelope.payload
    timestamp = p.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 < timestamp < 10**14:
        _bad("“timestamp” must be an integer: milliseconds since the epoch.")
    nonce = p.get("nonce")
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 128 or not nonce.isascii() or not nonce.isprintable():
        _bad("“nonce” must be a string of 16 to 128 printable ASCII characters.")
    sudi = p.get("sudi")
    if not isinstance(sudi, dict):
        _bad("“sudi” must be an object with udi_pid and udi_serial_number.")
    clean_sudi = {"udi_pid": _udi_text(sudi, "udi_pid"), "udi_serial_number": _udi_text(sudi, "udi_serial_number")}
    for name in SUDI_OPTIONAL:
        clean_sudi[name] = _text(sudi, name, allow_empty=True)
    software_tag = _text(p, "software_tag", required=True)
    udi = f"{clean_sudi['udi_pid']}\x00{clean_sudi['udi_serial_number']}"
    message = Message(
        type=envelope.type,
        timestamp_ms=timestamp,
        nonce=nonce,
        sudi=clean_sudi,
        software_tag=software_tag,
        device_key=hashlib.sha256(udi.encode()).hexdigest(),
    )
    f = message.fields
    t = envelope.type
    if t == "REGISTER":
        f["id_token"] = _id_token(p)
        f["csr"] = _csr(p)
        for name in DETAILS:
            f[name] = _text(p, name, allow_empty=True)
        force = p.get("force", False)
        if not isinstance(force, bool):
            _bad("“force” must be true or false.")
        f["force"] = force
    elif t == "RENEW_ID":
        f["csr"] = _csr(p)
    elif t == "AUTHORIZE":
        f["entitlements"] = _entitlements(p, minimum=0, maximum=500)
        f["app_redundancy"] = _redundancy(p)
    elif t == "REPORT_USAGE":
        f["reports"] = _rum_reports(p)
        if envelope.key == "csr":
            f["csr"] = _csr(p)
            # A CSLU push may carry a registration token: used when the push adds a product instance.
            if "id_token" in p:
                f["id_token"] = _id_token(p)
    elif t in ("EXPORT_AUTHORIZE", "EXPORT_RETURN"):
        f["entitlements"] = _entitlements(p, minimum=1, maximum=50)
    elif t == "CONVERT":
        f["licenses"] = _conversions(p)
    elif t == "POLL":
        f["poll_id"] = _text(p, "poll_id", required=True, max_length=64)
    elif t == "GET_THIRD_PARTY_KEY":
        f["tags"] = _tags(p)
    return message
