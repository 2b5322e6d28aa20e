"""What a document is: the format's constants, who it is about (``OnPrem``), the ``Document``
itself, its timestamps and ids."""

from __future__ import annotations

import dataclasses
import datetime
import re
import uuid

VERSION = 1
KINDS = ("RegistrationRequest", "Authorization", "SyncRequest", "SyncResponse")
REQUEST_KINDS = ("RegistrationRequest", "SyncRequest")
SYNC_TYPES = ("standard", "full")
ALGORITHMS = ("ecdsa-p256-sha256", "rsa-pkcs1v15-sha256")
TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclasses.dataclass(frozen=True)
class OnPrem:
    """Who a document is about: the local account as CSSM knows it (the SSM On-Prem record)."""

    name: str
    uid: str
    smart_account: str
    virtual_account: str

    def to_dict(self):
        return {
            "name": self.name,
            "uid": self.uid,
            "smart_account": self.smart_account,
            "virtual_account": self.virtual_account,
        }


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
        data = {
            "kind": self.kind,
            "version": self.version,
            "onprem": self.onprem.to_dict(),
            self.id_field: self.document_id,
            "created_at": format_timestamp(self.created_at),
        }
        if self.sync_type is not None:
            data["type"] = self.sync_type
        data["body"] = self.body
        return data

    def to_dict(self):
        data = self.unsigned_dict()
        if self.signature is not None:
            data["signature"] = self.signature
        return data


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def format_timestamp(value: datetime.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, whole seconds: ``2026-11-23T13:04:05Z``."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(datetime.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime.datetime:
    if not isinstance(text, str) or not TIMESTAMP_RE.fullmatch(text):
        raise ValueError("not a UTC timestamp like 2026-11-23T13:04:05Z")
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())
