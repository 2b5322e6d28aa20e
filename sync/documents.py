"""The synchronization documents exchanged with CSSM: build, sign, serialize, parse, verify.

Pure functions and dataclasses (no Django models), shared by the On-Prem side (``sync``) and
the CSSM emulator (``sync.emulator``). The wire format is described in docs/sync-protocol.md;
the short version:

* A document is one YAML mapping: ``kind``, ``version``, ``onprem`` {name, uid, smart_account,
  virtual_account}, ``request_id`` (requests) or ``response_id`` (responses), ``created_at``,
  ``type`` (``standard``/``full``, sync documents only), ``body`` and ``signature``.
* The signature covers the *canonical serialization* of everything but ``signature``: JSON
  with sorted keys, no whitespace, UTF-8 (``canonical_bytes``). Signing the header too (not
  only the body) is deliberate: otherwise anyone could re-date or re-number a response and
  replay it past the "already processed" check.
* ``signature.certificates`` carries the signer's certificate first, then its issuers (the
  root may be omitted); the verifier accepts it only in the role that signs that kind of
  document (``sync.certificate_roles``: CSSM's document signer for an Authorization or
  SyncResponse, the On-Prem's ID certificate for a SyncRequest), under a root it already
  trusts. Chaining to the root is not enough: a device's ID certificate chains there too. A
  ``RegistrationRequest`` has no certificate yet: it is signed with the key of its ``id_csr``
  (``signer: id_csr``).

Every rejection of the vendor guide ("Synchronization Failed (Manual Synchronization)" and
"(Network Synchronization)") is a ``Rejection`` subclass below, carrying the guide's exact
text for both modes; ``verify`` raises the one that applies.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import hashlib
import json
import re
import uuid

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from onprem import pki

from . import certificate_roles as roles

VERSION = 1
KINDS = ("RegistrationRequest", "Authorization", "SyncRequest", "SyncResponse")
REQUEST_KINDS = ("RegistrationRequest", "SyncRequest")
SYNC_TYPES = ("standard", "full")
ALGORITHMS = ("ecdsa-p256-sha256", "rsa-pkcs1v15-sha256")
# 25,000 product instances (the guide's maximum) at ~600 bytes each, plus RUM reports.
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024  # a full request for 250,000 product instances is about 100 MB
MAX_NODES = 5_000_000
# "A product registration time must fall within 24-hours of the current SSM On-Prem server
# time": the same tolerance for documents.
MAX_SKEW = datetime.timedelta(hours=24)
ID_CERTIFICATE_DAYS = 364  # "it gets a new ID certificate (364 day duration)"

# --------------------------------------------------------------------------------------------
# Rejections: the guide's texts, verbatim. Two of the guide's lines break off at a page end
# ("... has an invalid" / "... the most recent"); they are completed here with the words the
# parallel messages use and marked "completed" in docs/sync-protocol.md.
# --------------------------------------------------------------------------------------------
MSG_WRONG_ACCOUNT = "Please ensure the file being uploaded corresponds to this On-Prem."
MSG_NOT_YAML = (
    "The file you selected is not a valid synchronization response file. It must be in YAML format "
    "with the file extension \u201c.yml\u201d. Ensure the correct file was selected and try again."
)
MSG_CORRUPTED = (
    "The file you selected is not a valid synchronization response file. It might be corrupted or "
    "was modified after being downloaded from Smart Software Manager. Redownload the synchronization "
    "response file and try again."
)
MSG_MODIFIED = (
    "The file you selected is not a valid synchronization response file. It appears to have been "
    "modified after it was downloaded from Smart Software Manager. Redownload the synchronization "
    "response file and try again."
)
MSG_TIMESTAMP = "Invalid Certificate timestamp. Please ensure the On-Prem is synchronized with the NTP server."
MSG_INVALID_ID_CERTIFICATE = (
    "Invalid ID Certificate. The file you uploaded has an invalid certificate. Ensure the file you "
    "uploaded corresponds to this On-Prem and it has not been modified."
)
MSG_INVALID_SIGNING_CERTIFICATE = (
    "Invalid Signing Certificate. The file you uploaded has an invalid certificate. Ensure the file "
    "you uploaded corresponds to this On-Prem and it has not been modified."
)
MSG_ALREADY_PROCESSED = (
    "The synchronization response file you selected has already been processed by this On-Prem. "
    "Ensure that you are selecting the most recent synchronization response file."
)
MSG_CERTIFICATES_MISSING = (
    "The file you selected is not a valid synchronization response file. Certificates are missing in "
    "the response file which you have uploaded. Redownload the synchronization response file and try again."
)
MSG_INVALID_CERTIFICATE = (
    "Invalid Certificate. The file uploaded during synchronization has an invalid certificate. "
    "Please do a full synchronization to get a new certificate."
)
# Network synchronization.
MSG_NET_INVALID_FILE = "The file being processed for this On-Prem is invalid."
MSG_NET_INVALID_ID_CERTIFICATE = "Invalid ID Certificate. The file being processed has an invalid certificate."
MSG_NET_INVALID_SIGNING_CERTIFICATE = (
    "Invalid Signing Certificate. The file being processed has an invalid certificate."
)
MSG_NET_INVALID_CERTIFICATE = (
    "Invalid Certificate. The file being processed during synchronization has an invalid certificate. "
    "Please do a full synchronization to get a new certificate."
)

MANUAL = "manual"
NETWORK = "network"


class Rejection(Exception):
    """A document the receiver must refuse. ``message`` is the guide's text for ``mode``.

    ``detail`` says what exactly was wrong, for logs and tests; it is never shown instead of
    the guide's message.
    """

    code = "invalid"
    manual_message = MSG_CORRUPTED
    network_message = MSG_NET_INVALID_FILE

    def __init__(self, detail="", *, mode=MANUAL):
        self.detail = detail
        self.mode = mode
        super().__init__(self.message)

    @property
    def message(self):
        return self.network_message if self.mode == NETWORK else self.manual_message

    def __str__(self):
        return self.message


class WrongAccount(Rejection):
    code = "wrong_account"
    manual_message = MSG_WRONG_ACCOUNT


class NotYaml(Rejection):
    code = "not_yaml"
    manual_message = MSG_NOT_YAML


class Corrupted(Rejection):
    code = "corrupted"
    manual_message = MSG_CORRUPTED


class Modified(Rejection):
    code = "modified"
    manual_message = MSG_MODIFIED


class TimestampSkew(Rejection):
    code = "timestamp"
    manual_message = MSG_TIMESTAMP
    network_message = MSG_TIMESTAMP


class InvalidIdCertificate(Rejection):
    code = "invalid_id_certificate"
    manual_message = MSG_INVALID_ID_CERTIFICATE
    network_message = MSG_NET_INVALID_ID_CERTIFICATE


class InvalidSigningCertificate(Rejection):
    code = "invalid_signing_certificate"
    manual_message = MSG_INVALID_SIGNING_CERTIFICATE
    network_message = MSG_NET_INVALID_SIGNING_CERTIFICATE


class AlreadyProcessed(Rejection):
    code = "already_processed"
    manual_message = MSG_ALREADY_PROCESSED


class CertificatesMissing(Rejection):
    code = "certificates_missing"
    manual_message = MSG_CERTIFICATES_MISSING


class InvalidCertificate(Rejection):
    """The ID certificate is unusable: only a full synchronization (a new certificate) helps."""

    code = "invalid_certificate"
    manual_message = MSG_INVALID_CERTIFICATE
    network_message = MSG_NET_INVALID_CERTIFICATE


REJECTIONS = {cls.code: cls for cls in (
    WrongAccount, NotYaml, Corrupted, Modified, TimestampSkew, InvalidIdCertificate,
    InvalidSigningCertificate, AlreadyProcessed, CertificatesMissing, InvalidCertificate,
)}


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class OnPrem:
    """Who a document is about: the local account as CSSM knows it (the SSM On-Prem record)."""

    name: str
    uid: str
    smart_account: str
    virtual_account: str

    def to_dict(self):
        return {"name": self.name, "uid": self.uid, "smart_account": self.smart_account,
                "virtual_account": self.virtual_account}


@dataclasses.dataclass
class Document:
    kind: str
    onprem: OnPrem
    document_id: str
    created_at: datetime.datetime
    body: dict
    sync_type: str | None = None
    signature: dict | None = None
    version: int = VERSION

    @property
    def is_request(self):
        return self.kind in REQUEST_KINDS

    @property
    def id_field(self):
        return "request_id" if self.is_request else "response_id"

    @property
    def in_reply_to(self):
        return self.body.get("in_reply_to")

    def unsigned_dict(self):
        data = {"kind": self.kind, "version": self.version, "onprem": self.onprem.to_dict(),
                self.id_field: self.document_id, "created_at": format_timestamp(self.created_at)}
        if self.sync_type is not None:
            data["type"] = self.sync_type
        data["body"] = self.body
        return data

    def to_dict(self):
        data = self.unsigned_dict()
        if self.signature is not None:
            data["signature"] = self.signature
        return data


@dataclasses.dataclass
class Verified:
    """What ``verify`` established: the signer and, for responses, the certificates they bring."""

    document: Document
    signer_certificate: x509.Certificate | None
    chain: list


# --------------------------------------------------------------------------------------------
# Timestamps and the canonical form
# --------------------------------------------------------------------------------------------
def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def format_timestamp(value: datetime.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, whole seconds: ``2026-11-23T13:04:05Z``."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(datetime.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime.datetime:
    if not isinstance(text, str) or not _TIMESTAMP_RE.fullmatch(text):
        raise ValueError("not a UTC timestamp like 2026-11-23T13:04:05Z")
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


_TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def canonical_bytes(data) -> bytes:
    """JSON, keys sorted, no whitespace, UTF-8 (non-ASCII kept as is): what signatures cover."""
    if _holds_canonical_list(data):
        return b"".join(part.encode("utf-8") for part in _canonical_parts(data))
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


# One encoder for the many small encodings of a large request (json.dumps builds one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
canonical_text = _CANONICAL.encode  # canonical_bytes without the final UTF-8 encoding


class CanonicalList:
    """A long list of a document body (the product instances of a full request), each item kept
    only as its canonical JSON text, checked against ``item_schema`` when it is added.

    The sender builds the canonical form, the signature and the YAML text from these texts
    without holding the items as dicts (a 250,000-instance request: ~300 MB less), and without
    a second pass of the schema in ``build``. It stands where a list would in ``Document.body``;
    iterating it gives the items back as dicts. Receivers never see one: ``parse`` gives lists.
    """

    def __init__(self, item_schema, path):
        self.item_schema, self.path, self.texts = item_schema, path, []

    def append(self, item):
        """Check ``item`` (SchemaError with its path in the body) and add it; returns its canonical text."""
        self.item_schema.check(item, f"{self.path}[{len(self.texts)}]")
        text = canonical_text(item)
        self.texts.append(text)
        return text

    def __len__(self):
        return len(self.texts)

    def __iter__(self):
        return (json.loads(text) for text in self.texts)


def _holds_canonical_list(data):
    if isinstance(data, CanonicalList):
        return True
    if isinstance(data, dict):
        return any(_holds_canonical_list(value) for value in data.values())
    return False


def _canonical_parts(data):
    """``canonical_bytes(data)`` as text pieces. Compact sorted JSON is compositional (an object
    is ``{`` + ``"key":value`` joined by commas + ``}``), so it can be produced piecewise, with a
    CanonicalList's texts used as they are."""
    if isinstance(data, CanonicalList):
        yield "["
        first = True
        for text in data.texts:
            if not first:
                yield ","
            first = False
            yield text
        yield "]"
    elif isinstance(data, dict) and _holds_canonical_list(data):
        yield "{"
        for index, key in enumerate(sorted(data)):
            if not isinstance(key, str):
                raise TypeError(f"keys must be strings, not {type(key).__name__}")
            yield ("," if index else "") + canonical_text(key) + ":"
            yield from _canonical_parts(data[key])
        yield "}"
    else:
        yield canonical_text(data)


def canonical_digest(data) -> bytes:
    """SHA-256 of ``canonical_bytes(data)``, hashed piece by piece (no copy of a large document)."""
    digest = hashlib.sha256()
    for part in _canonical_parts(data):
        digest.update(part.encode("utf-8"))
    return digest.digest()


def new_id() -> str:
    return str(uuid.uuid4())


# --------------------------------------------------------------------------------------------
# Schema: strict (unknown keys are errors), JSON types only, so the canonical form of a parsed
# document is exactly the one its sender signed.
# --------------------------------------------------------------------------------------------
class SchemaError(ValueError):
    def __init__(self, path, problem):
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


class _Invalid(Exception):
    """Raised inside a check; ``check`` turns it into a SchemaError with the full path.

    The path is assembled only on failure (segments collected on the way out): building it
    for every field of every item was most of the cost of validating a 250,000-instance request.
    """

    def __init__(self, problem):
        super().__init__(problem)
        self.problem, self.segments = problem, []

    def path_from(self, path):
        for segment in reversed(self.segments):
            if isinstance(segment, int):
                path = f"{path}[{segment}]"
            else:
                path = f"{path}.{segment}" if path else segment
        return path


class Field:
    def __init__(self, *, optional=False, nullable=False):
        self.optional, self.nullable = optional, nullable

    def check(self, value, path):
        try:
            self.validate(value)
        except _Invalid as exc:
            raise SchemaError(exc.path_from(path), exc.problem) from None

    def validate(self, value):
        if value is None:
            if not self.nullable:
                raise _Invalid("must not be empty")
            return
        self._check(value)

    def _check(self, value):  # pragma: no cover - abstract
        raise NotImplementedError


class Str(Field):
    def __init__(self, max_length=255, *, choices=None, pattern=None, min_length=0, **kw):
        super().__init__(**kw)
        self.max_length, self.choices, self.pattern, self.min_length = max_length, choices, pattern, min_length
        self._regex = re.compile(pattern) if pattern else None

    def _check(self, value):
        if not isinstance(value, str):
            raise _Invalid("must be a string")
        if len(value) > self.max_length:
            raise _Invalid(f"must be at most {self.max_length} characters")
        if len(value) < self.min_length:
            raise _Invalid("must not be empty" if self.min_length == 1
                           else f"must be at least {self.min_length} characters")
        if self.choices and value not in self.choices:
            raise _Invalid("must be one of " + ", ".join(self.choices))
        if self._regex is not None and not self._regex.fullmatch(value):
            raise _Invalid("is not in the expected format")


class Name(Str):
    def __init__(self, max_length=255, **kw):
        super().__init__(max_length, min_length=1, **kw)


class Timestamp(Str):
    def __init__(self, **kw):
        super().__init__(20, pattern=_TIMESTAMP_RE.pattern, **kw)


class Date(Str):
    def __init__(self, **kw):
        super().__init__(10, pattern=_DATE_RE.pattern, **kw)

    def _check(self, value):
        super()._check(value)
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            raise _Invalid("is not a valid date (YYYY-MM-DD)") from None


class Pem(Str):
    def __init__(self, label="CERTIFICATE", **kw):
        super().__init__(16384, **kw)
        self.label = label

    def _check(self, value):
        super()._check(value)
        if f"-----BEGIN {self.label}-----" not in value:
            raise _Invalid(f"must be a PEM {self.label.lower()}")


class Int(Field):
    def __init__(self, minimum=0, maximum=2**31 - 1, **kw):
        super().__init__(**kw)
        self.minimum, self.maximum = minimum, maximum

    def _check(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid("must be an integer")
        if not self.minimum <= value <= self.maximum:
            raise _Invalid(f"must be between {self.minimum} and {self.maximum}")


class Bool(Field):
    def _check(self, value):
        if not isinstance(value, bool):
            raise _Invalid("must be true or false")


class List(Field):
    def __init__(self, item, max_items=100_000, **kw):
        super().__init__(**kw)
        self.item, self.max_items = item, max_items

    def _check(self, value):
        if isinstance(value, CanonicalList):
            # Its items were checked against a schema as they were added: it must be this one.
            if value.item_schema is not self.item:
                raise _Invalid("was checked against another schema")
            if len(value) > self.max_items:
                raise _Invalid(f"must have at most {self.max_items} items")
            return
        if not isinstance(value, list):
            raise _Invalid("must be a list")
        if len(value) > self.max_items:
            raise _Invalid(f"must have at most {self.max_items} items")
        validate = self.item.validate
        for index, element in enumerate(value):
            try:
                validate(element)
            except _Invalid as exc:
                exc.segments.append(index)
                raise


class Obj(Field):
    def __init__(self, fields, **kw):
        super().__init__(**kw)
        self.fields = fields
        self._keys = frozenset(fields)
        self._items = tuple((key, field, field.optional) for key, field in fields.items())

    def _check(self, value):
        if not isinstance(value, dict):
            raise _Invalid("must be a mapping")
        if not self._keys.issuperset(value):
            unknown = sorted(str(key) for key in value if key not in self.fields)
            raise _Invalid("unknown field(s): " + ", ".join(unknown))
        for key, field, optional in self._items:
            if key not in value:
                if not optional:
                    exc = _Invalid("is missing")
                    exc.segments.append(key)
                    raise exc
                continue
            try:
                field.validate(value[key])
            except _Invalid as exc:
                exc.segments.append(key)
                raise


_TAG = Name(512)
_LICENSE_COUNT = List(Obj({"tag": _TAG, "count": Int()}), max_items=10_000)

REGISTRATION_BODY = Obj({
    "account_name": Name(100),
    "reregistration": Bool(),
    # The On-Prem's ID key (signs its sync requests) and the local account's signing authority
    # key (signs device certificates): CSSM certifies both.
    "id_csr": Pem("CERTIFICATE REQUEST"),
    "signing_csr": Pem("CERTIFICATE REQUEST"),
    "requested_by": Str(255, optional=True),
    "message_to_approver": Str(2000, optional=True),
    "product_version": Str(100, optional=True),
})

AUTHORIZATION_BODY = Obj({
    "in_reply_to": Name(64),
    "onprem_name": Name(),
    "registered_at": Timestamp(),
    "id_certificate": Pem(),
    "signing_certificate": Pem(),
    "certificate_chain": List(Pem(), max_items=8),
    "export_control_allowed": Bool(),
    "full_sync_required": Bool(),
})

_REDUNDANCY = Obj({
    "application": Str(255),
    "role": Str(16, choices=("ACTIVE", "STANDBY")),
    "peers": List(Obj({"name": Str(255), "role": Str(16), "id": Str(255),
                       "product_instance_identifier": Str(512, optional=True)}), max_items=64),
}, optional=True)

PRODUCT_INSTANCE = Obj({
    "identifier": Name(512),
    "virtual_account": Name(100),
    "udi_pid": Str(255),
    "udi_serial_number": Str(255),
    "product_name": Str(255, optional=True),
    "product_type": Str(255, optional=True),
    "software_tag": Str(512, optional=True),
    # Absent when the data-privacy settings exclude them.
    "hostname": Str(255, optional=True),
    "ip_address": Str(64, optional=True),
    "mac_address": Str(64, optional=True),
    "registered_at": Timestamp(optional=True),
    "last_contact_at": Timestamp(optional=True, nullable=True),
    "licenses": _LICENSE_COUNT,
    "redundancy": _REDUNDANCY,
})

SYNC_REQUEST_BODY = Obj({
    # The watermark: the last response the On-Prem applied (None before the first sync).
    "last_response_id": Str(64, nullable=True),
    "data_privacy": Obj({"hostname": Bool(), "ip_address": Bool(), "mac_address": Bool()}),
    # Far beyond the guide's 25,000 per account: the benchmark builds full requests of 250,000.
    "product_instances": List(PRODUCT_INSTANCE, max_items=1_000_000),
    "removed_product_instances": List(Name(512), max_items=1_000_000),
    "license_usage": List(Obj({"tag": _TAG, "virtual_account": Name(100), "in_use": Int()}), max_items=100_000),
    "export_requests": List(Obj({
        "request_id": Name(64), "product_instance": Name(512), "tag": _TAG, "count": Int(minimum=1),
        "action": Str(16, choices=("authorize", "return")),
    }), max_items=100_000),
    "dlc_requests": List(Obj({
        "request_id": Name(64), "product_instance": Name(512), "device_identifier": Name(512),
        "product_family": Str(255), "virtual_account": Name(100),
        "licenses": List(Obj({"name": Str(255), "tag": _TAG, "count": Int(minimum=1),
                              "pak": Str(255, optional=True)}), max_items=1000),
    }), max_items=100_000),
    # SLP RUM reports, each the exact JSON text the device sent.
    "rum_reports": List(Str(1_000_000), max_items=100_000),
})

ENTITLEMENT = Obj({
    "line_id": Name(64),
    "tag": _TAG,
    "name": Name(),
    "description": Str(2000),
    "product_family": Str(255),
    "license_type": Str(12, choices=("perpetual", "term", "demo", "subscription")),
    "billing_type": Str(10, choices=("prepaid", "usage")),
    "quantity": Int(minimum=1),
    "start_date": Date(nullable=True),
    "end_date": Date(nullable=True),
    "subscription_id": Str(100),
    "sku": Str(100),
    "source": Str(16, choices=("pak", "ea", "order", "device_migration", "other")),
    "export_restricted": Bool(),
    # Tier hierarchy: the licenses that can stand in for this one (its higher tiers).
    "parents": List(_TAG, max_items=64),
})

SYNC_RESPONSE_BODY = Obj({
    "in_reply_to": Name(64),
    "onprem_name": Name(),
    "export_control_allowed": Bool(),
    # The complete list for the account's Default local virtual account (CSSM is the source
    # of truth for entitlements), whatever the sync type.
    "entitlements": List(ENTITLEMENT, max_items=100_000),
    "id_certificate": Pem(),
    "certificate_chain": List(Pem(), max_items=8),
    "export_decisions": List(Obj({
        "request_id": Name(64), "status": Str(12, choices=("authorized", "denied")), "reason": Str(2000),
    }), max_items=100_000),
    "dlc_decisions": List(Obj({
        "request_id": Name(64),
        "status": Str(20, choices=("migrate-success", "migrate-failed", "already-converted")),
        "reason": Str(2000),
    }), max_items=100_000),
    "full_sync_required": Bool(),
    "product_instances_on_cssm": Int(),
})

BODIES = {
    "RegistrationRequest": REGISTRATION_BODY,
    "Authorization": AUTHORIZATION_BODY,
    "SyncRequest": SYNC_REQUEST_BODY,
    "SyncResponse": SYNC_RESPONSE_BODY,
}

ONPREM = Obj({"name": Name(100), "uid": Name(64), "smart_account": Name(), "virtual_account": Name()})
SIGNATURE = Obj({
    "algorithm": Str(32, choices=ALGORITHMS),
    "signer": Str(16, choices=("certificate", "id_csr")),
    "value": Str(2048),
    "certificates": List(Str(16384), max_items=8),
})


def _envelope_schema(kind):
    fields = {
        "kind": Str(32, choices=KINDS),
        "version": Int(minimum=VERSION, maximum=VERSION),
        "onprem": ONPREM,
        ("request_id" if kind in REQUEST_KINDS else "response_id"): Name(64),
        "created_at": Timestamp(),
        "body": BODIES[kind],
    }
    if kind in ("SyncRequest", "SyncResponse"):
        fields["type"] = Str(8, choices=SYNC_TYPES)
    return Obj(fields)


def validate_body(kind, body):
    """Raise SchemaError if ``body`` is not a valid body of ``kind``."""
    BODIES[kind].check(body, "body")


# --------------------------------------------------------------------------------------------
# Build, sign, serialize
# --------------------------------------------------------------------------------------------
def build(kind, onprem: OnPrem, body: dict, *, sync_type=None, now=None, document_id=None) -> Document:
    """A new unsigned document; the body is validated now so a bad one never leaves the sender."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if (kind in ("SyncRequest", "SyncResponse")) != (sync_type is not None):
        raise ValueError("type (standard/full) is required for sync documents and only for them")
    if sync_type is not None and sync_type not in SYNC_TYPES:
        raise ValueError(f"unknown sync type {sync_type!r}")
    ONPREM.check(onprem.to_dict(), "onprem")
    validate_body(kind, body)
    return Document(kind=kind, onprem=onprem, document_id=document_id or new_id(),
                    created_at=(now or utcnow()).replace(microsecond=0), body=body, sync_type=sync_type)


def _algorithm_for(private_key):
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(private_key.curve, ec.SECP256R1):
        return "ecdsa-p256-sha256"
    if isinstance(private_key, rsa.RSAPrivateKey) and private_key.key_size >= 2048:
        return "rsa-pkcs1v15-sha256"
    raise ValueError("signing keys must be ECDSA P-256 or RSA of 2048 bits or more")


def _raw_sign(private_key, data):
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return private_key.sign(data, ec.ECDSA(hashes.SHA256()))


def _sign_digest(private_key, digest):
    """The same signature as ``_raw_sign`` of the data whose SHA-256 is ``digest``."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    return private_key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))


def sign(document: Document, private_key, certificates) -> Document:
    """Sign with ``private_key``; ``certificates``: the signer's certificate first, then its issuers.

    With ``certificates`` empty the document must be a RegistrationRequest, signed with the key
    of its ``id_csr`` (the On-Prem has no certificate yet).
    """
    certificates = [c if isinstance(c, str) else pki.certificate_pem(c) for c in certificates]
    if certificates:
        signer_key = pki.load_certificate(certificates[0]).public_key()
        signer = "certificate"
    elif document.kind == "RegistrationRequest":
        signer_key = x509.load_pem_x509_csr(document.body["id_csr"].encode()).public_key()
        signer = "id_csr"
    else:
        raise ValueError("only a RegistrationRequest may be signed without a certificate")
    if pki.public_key_fingerprint(signer_key) != pki.public_key_fingerprint(private_key.public_key()):
        raise ValueError("the private key does not match the signer's certificate")
    algorithm = _algorithm_for(private_key)
    # Hashed piecewise: verify() checks the same signature over canonical_bytes() of the parsed data.
    value = base64.b64encode(_sign_digest(private_key, canonical_digest(document.unsigned_dict()))).decode()
    document.signature = {"algorithm": algorithm, "signer": signer, "value": value, "certificates": certificates}
    return document


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """The safe dumper (libyaml's C emitter when available: about 3x faster on a 25,000-instance
    request, docs/performance.md), with multi-line strings (PEM) as readable literal blocks."""


def _represent_str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump(data):
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)


# Characters a YAML 1.1 reader refuses (non-printable) or reads as a line break inside a quoted
# scalar (NEL, LS, PS; folded to a space), and the BOM: written as \u escapes, which JSON and
# YAML double-quoted scalars share. JSON already escapes the C0 controls, quotes and backslashes.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")


def _yaml_safe(text):
    if _YAML_UNSAFE.search(text) is None:
        return text
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def flow_line(item_text):
    """A canonical JSON text as a YAML flow node (JSON is a YAML flow subset once the characters
    above are escaped): the safe loader reads it back as exactly the same data."""
    return _yaml_safe(item_text)


def _serialize_parts(data, indent):
    """YAML block mapping of ``data`` with every CanonicalList written one flow item a line;
    the rest through the safe dumper as before."""
    pad = " " * indent
    small = {}
    for key, value in data.items():
        if isinstance(value, CanonicalList) or (isinstance(value, dict) and _holds_canonical_list(value)):
            if small:
                yield from (pad + line if line else line for line in _dump(small).splitlines(keepends=True))
                small = {}
            yield pad + _dump(key).rstrip("\n").removesuffix("\n...") + ":"
            if isinstance(value, dict):
                yield "\n"
                yield from _serialize_parts(value, indent + 2)
            elif not value.texts:
                yield " []\n"
            else:
                yield "\n"
                prefix = pad + "- "
                for text in value.texts:
                    yield prefix
                    yield _yaml_safe(text)
                    yield "\n"
        else:
            small[key] = value
    if small:
        yield from (pad + line if line else line for line in _dump(small).splitlines(keepends=True))


def serialize(document: Document) -> str:
    """The YAML text of a (signed) document (``yaml.safe_dump`` with PEM blocks kept readable).

    Strings that look like dates or numbers are quoted, so they load back as the same strings.
    A CanonicalList (the product instances of a large request) is written one JSON flow mapping
    a line: PyYAML's Python representer took ~0.7 ms per product instance.
    """
    data = document.to_dict()
    if not _holds_canonical_list(data):
        return _dump(data)
    return "".join(_serialize_parts(data, 0))


def filename(document: Document) -> str:
    """``<On-Prem name>_<Kind>[_<type>]_<YYYYmmddTHHMMSSZ>.yml``, safe for any file system."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", document.onprem.name).strip("-.") or "onprem"
    stamp = document.created_at.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    kind = document.kind + (f"_{document.sync_type}" if document.sync_type else "")
    return f"{name[:80]}_{kind}_{stamp}.yml"


# --------------------------------------------------------------------------------------------
# Parse
# --------------------------------------------------------------------------------------------
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the safe loader, in C when available


def _check_plain(data):
    """JSON types only, no YAML aliases (shared nodes), bounded size; else Corrupted."""
    seen = set()
    stack = [data]
    count = 0
    while stack:
        value = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise Corrupted("too many nodes")
        if isinstance(value, dict):
            if id(value) in seen:
                raise Corrupted("YAML aliases are not allowed")
            seen.add(id(value))
            for key, child in value.items():
                if not isinstance(key, str):
                    raise Corrupted(f"non-string key {key!r}")
                stack.append(child)
        elif isinstance(value, list):
            if id(value) in seen:
                raise Corrupted("YAML aliases are not allowed")
            seen.add(id(value))
            stack.extend(value)
        elif value is None or isinstance(value, (str, bool, int)):
            continue
        else:
            # floats, dates, timestamps, binary: the sender never writes them unquoted.
            raise Corrupted(f"unexpected value of type {type(value).__name__}")


def parse(data, *, name=None, mode=MANUAL, expected_kinds=None, max_bytes=MAX_DOCUMENT_BYTES) -> Document:
    """A Document from YAML text or bytes, strictly validated; else a Rejection.

    ``name`` is the uploaded file's name: when given it must end in ``.yml``. Not YAML at all
    (or not a mapping) is ``NotYaml``; YAML that is not a valid document is ``Corrupted``;
    a document whose signature is absent or has no certificates is ``CertificatesMissing``.
    """
    if name is not None and not str(name).lower().endswith(".yml"):
        raise NotYaml("the file name does not end in .yml", mode=mode)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray)):
        raise NotYaml("no file content", mode=mode)
    if len(data) > max_bytes:
        raise Corrupted(f"larger than {max_bytes} bytes", mode=mode)
    try:
        text = bytes(data).decode("utf-8")
        loaded = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise NotYaml(f"not YAML: {exc.__class__.__name__}", mode=mode) from None
    except RecursionError:
        raise Corrupted("nested too deeply", mode=mode) from None
    if not isinstance(loaded, dict):
        raise NotYaml("the YAML is not a mapping", mode=mode)
    try:
        _check_plain(loaded)
    except Corrupted as exc:
        exc.mode = mode
        raise
    kind = loaded.get("kind")
    if kind not in KINDS or (expected_kinds and kind not in expected_kinds):
        raise Corrupted(f"unexpected kind {kind!r}", mode=mode)
    # The content first (a truncated file is corrupted), then whether it carries certificates.
    signature = loaded.pop("signature", None)
    try:
        _envelope_schema(kind).check(loaded, "")
    except SchemaError as exc:
        raise Corrupted(str(exc), mode=mode) from None
    if not isinstance(signature, dict) or (
        not signature.get("certificates") and not (kind == "RegistrationRequest" and signature.get("signer") == "id_csr")
    ):
        raise CertificatesMissing("no signature certificates", mode=mode)
    try:
        SIGNATURE.check(signature, "signature")
    except SchemaError as exc:
        raise Corrupted(str(exc), mode=mode) from None
    id_field = "request_id" if kind in REQUEST_KINDS else "response_id"
    onprem = OnPrem(**loaded["onprem"])
    return Document(kind=kind, onprem=onprem, document_id=loaded[id_field],
                    created_at=parse_timestamp(loaded["created_at"]), body=loaded["body"],
                    sync_type=loaded.get("type"), signature=signature, version=loaded["version"])


# --------------------------------------------------------------------------------------------
# Verify
# --------------------------------------------------------------------------------------------
def _load_pems(pems, mode, error):
    certs = []
    for pem in pems:
        try:
            certs.append(pki.load_certificate(pem))
        except (pki.PkiError, ValueError):
            raise error("a certificate is not valid PEM", mode=mode) from None
    return certs


def _roots(trusted_roots):
    return [pki.load_certificate(r) if isinstance(r, (str, bytes)) else r for r in trusted_roots]


def _directly_issued(child, parent):
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_validity(cert, now):
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _validated_signer(document, chain, trusted_roots, intermediates, mode, now):
    """The signer's validated path ``[signer, issuing CA, root]`` in the role that signs this kind.

    The path's shape is checked at a time when its certificates overlap; whether they are valid
    *now* is the later timestamp check (the guide's "Invalid Certificate timestamp").
    """
    role = roles.SIGNER_OF[document.kind]
    roots = _roots(trusted_roots)
    untrusted = [*chain[1:], *_roots(intermediates)]
    at = roles.common_validity_time([*chain, *roots], now)
    try:
        return roles.validate(role, chain[0], untrusted, roots, at=at)
    except roles.NotInRole as exc:
        raise InvalidSigningCertificate(str(exc), mode=mode) from None


def _verify_signature(public_key, algorithm, data, value):
    try:
        raw = base64.b64decode(value, validate=True)
        if algorithm == "ecdsa-p256-sha256" and pki.is_p256(public_key):
            public_key.verify(raw, data, ec.ECDSA(hashes.SHA256()))
        elif algorithm == "rsa-pkcs1v15-sha256" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(raw, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def verify(document: Document, *, trusted_roots, mode=MANUAL, now=None, expected_uid=None,
           expected_onprem: OnPrem | None = None, in_reply_to=None, is_processed=None,
           expected_id_public_key=None, max_skew=MAX_SKEW, intermediates=()) -> Verified:
    """Check a parsed document; return ``Verified`` or raise the guide's ``Rejection``.

    Order (first failure wins): the signer certificate is, under ``trusted_roots``, the one whose
    role is to sign this kind of document (``certificate_roles.SIGNER_OF``; InvalidSigningCertificate) -> signature over the canonical form (Modified) -> the document
    is about this On-Prem: ``expected_uid`` / ``expected_onprem`` uid and smart account, and
    answers ``in_reply_to`` (WrongAccount) -> ``created_at`` within ``max_skew`` of ``now`` and
    the signer certificate valid at ``now`` (TimestampSkew) -> not seen before:
    ``is_processed(document_id)`` (AlreadyProcessed) -> for Authorization / SyncResponse, the
    ID certificate in the body: an On-Prem ID certificate under the roots, valid now
    (InvalidCertificate), certifying ``expected_id_public_key`` for this uid
    (InvalidIdCertificate); for an Authorization also the signing certificate, a signing
    authority for this uid (InvalidSigningCertificate).
    """
    now = now or utcnow()
    signature = document.signature or {}
    data = canonical_bytes(document.unsigned_dict())
    signer_cert = None
    chain = []
    if signature.get("signer") == "id_csr":
        if document.kind != "RegistrationRequest":
            raise CertificatesMissing("only a registration request may be signed by its CSR", mode=mode)
        try:
            public_key = pki.load_csr(document.body["id_csr"]).public_key()
        except pki.PkiError:
            raise InvalidIdCertificate("the id_csr is not a valid P-256 CSR", mode=mode) from None
    else:
        if not signature.get("certificates"):
            raise CertificatesMissing("no signature certificates", mode=mode)
        presented = _load_pems(signature["certificates"], mode, InvalidSigningCertificate)
        chain = _validated_signer(document, presented, trusted_roots, intermediates, mode, now)
        signer_cert = chain[0]
        public_key = signer_cert.public_key()
    if not _verify_signature(public_key, signature.get("algorithm"), data, signature.get("value", "")):
        raise Modified("the signature does not verify", mode=mode)

    if expected_onprem is not None:
        if (document.onprem.uid != expected_onprem.uid
                or document.onprem.smart_account != expected_onprem.smart_account):
            raise WrongAccount("the document is for another On-Prem", mode=mode)
    if expected_uid is not None and document.onprem.uid != expected_uid:
        raise WrongAccount("the document is for another On-Prem", mode=mode)
    if in_reply_to is not None and document.in_reply_to != in_reply_to:
        raise WrongAccount("the response answers another request", mode=mode)

    if abs(now - document.created_at) > max_skew:
        raise TimestampSkew("created_at is too far from now", mode=mode)
    if signer_cert is not None and not all(check_validity(cert, now) for cert in chain):
        raise TimestampSkew("a signature certificate is not valid now", mode=mode)

    if is_processed is not None and is_processed(document.document_id):
        raise AlreadyProcessed(f"{document.id_field} {document.document_id} was seen before", mode=mode)

    if document.kind in ("Authorization", "SyncResponse"):
        _verify_issued_certificates(document, trusted_roots, mode, now, expected_id_public_key)
    return Verified(document=document, signer_certificate=signer_cert, chain=chain)


def _verify_issued_certificates(document, trusted_roots, mode, now, expected_id_public_key):
    """The certificates CSSM hands the On-Prem: each in its role, under the root, valid now."""
    body = document.body
    issuers = _load_pems(body["certificate_chain"], mode, InvalidCertificate)
    if not issuers:
        raise CertificatesMissing("the certificate chain is empty", mode=mode)
    roots = _roots(trusted_roots)
    try:
        id_cert = pki.load_certificate(body["id_certificate"])
        roles.validate(roles.ONPREM_ID, id_cert, issuers, roots, at=now)
    except (pki.PkiError, roles.NotInRole) as exc:
        raise InvalidCertificate(f"the ID certificate: {exc}", mode=mode) from None
    if certificate_uid(id_cert) != document.onprem.uid or (
        expected_id_public_key is not None
        and pki.public_key_fingerprint(id_cert.public_key()) != pki.public_key_fingerprint(expected_id_public_key)
    ):
        raise InvalidIdCertificate("the ID certificate is not this On-Prem's", mode=mode)
    if document.kind == "Authorization":
        try:
            signing = pki.load_certificate(body["signing_certificate"])
            roles.validate(roles.DEVICE_SIGNING_AUTHORITY, signing, issuers, roots, at=now)
        except (pki.PkiError, roles.NotInRole) as exc:
            raise InvalidSigningCertificate(f"the signing certificate: {exc}", mode=mode) from None
        if certificate_uid(signing) != document.onprem.uid:
            raise InvalidSigningCertificate("the signing certificate is not this On-Prem's", mode=mode)


def certificate_uid(cert) -> str | None:
    """The On-Prem UID a CSSM-issued certificate names (its subject serialNumber)."""
    attrs = cert.subject.get_attributes_for_oid(x509.oid.NameOID.SERIAL_NUMBER)
    return attrs[0].value if attrs else None


def chain_root(document: Document) -> str | None:
    """The self-signed root at the end of an Authorization's / SyncResponse's ``certificate_chain``.

    For an On-Prem with no CSSM root configured: pin this one from the first Authorization
    (trust on first use) and pass it as ``trusted_roots`` from then on. Never trust the root a
    later response brings without comparing it to the pinned one.
    """
    chain = document.body.get("certificate_chain") or []
    if not chain:
        return None
    try:
        cert = pki.load_certificate(chain[-1])
    except pki.PkiError:
        return None
    return chain[-1] if cert.subject == cert.issuer and _directly_issued(cert, cert) else None


def parse_and_verify(data, *, name=None, expected_kinds=None, mode=MANUAL, **checks) -> Verified:
    """``parse`` then ``verify``: the one call a receiver makes."""
    return verify(parse(data, name=name, mode=mode, expected_kinds=expected_kinds), mode=mode, **checks)


# --------------------------------------------------------------------------------------------
# Keys and CSRs for the On-Prem side
# --------------------------------------------------------------------------------------------
def new_csr(private_key, *, common_name, uid):
    """A CSR (PEM) for an On-Prem key: CN the On-Prem name, serialNumber its UID."""
    name = x509.Name([
        pki.name_attribute(x509.oid.NameOID.COMMON_NAME, common_name),
        pki.name_attribute(x509.oid.NameOID.SERIAL_NUMBER, uid),
    ])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(private_key, hashes.SHA256())
    from cryptography.hazmat.primitives import serialization

    return csr.public_bytes(serialization.Encoding.PEM).decode()


__all__ = [
    "VERSION", "KINDS", "SYNC_TYPES", "MANUAL", "NETWORK", "OnPrem", "Document", "Verified", "Rejection",
    "WrongAccount", "NotYaml", "Corrupted", "Modified", "TimestampSkew", "InvalidIdCertificate",
    "InvalidSigningCertificate", "AlreadyProcessed", "CertificatesMissing", "InvalidCertificate", "REJECTIONS",
    "SchemaError", "build", "sign", "serialize", "filename", "parse", "verify", "parse_and_verify",
    "canonical_bytes", "format_timestamp", "parse_timestamp", "validate_body", "new_csr", "certificate_uid",
    "chain_root", "new_id", "utcnow", "CanonicalList", "canonical_text", "canonical_digest",
    "flow_line",
]
