"""A new document, validated before it is signed so a bad one never leaves the sender."""

from .bodies import ONPREM, validate_body
from .document import KINDS, SYNC_TYPES, Document, OnPrem, new_id, utcnow


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
    return Document(
        kind=kind,
        onprem=onprem,
        document_id=document_id or new_id(),
        created_at=(now or utcnow()).replace(microsecond=0),
        body=body,
        sync_type=sync_type,
    )
