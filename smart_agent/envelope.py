"""The signed envelope (docs/protocol.md, "The envelope"): build requests, verify and read replies.

The payload is serialised to a string exactly once; that string travels as ``payload`` and its
UTF-8 bytes are what the signature covers, so nothing is ever re-serialised before verifying.
"""

import json
import secrets
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from . import crypto

VERSION = "1"
CSR_KEY = "csr"
XML_ROOT, XML_MESSAGE = "smartLicense", "message"


class InvalidReply(Exception):
    """The server's answer is not a valid, correctly signed reply envelope."""


@dataclass(frozen=True)
class Reply:
    type: str
    payload: dict
    payload_text: str
    signer: str  # serial (lowercase hex) of the certificate that signed it
    verified: bool = True  # False only for an advisory FAILED signed by an authority outside our chain

    @property
    def status(self):
        return self.payload.get("status")


def now_ms() -> int:
    return int(time.time() * 1000)


def new_nonce() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, 144 random bits


def dumps(document) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def build(message_type: str, payload: dict, *, key, key_id: str) -> str:
    """The envelope text for ``payload``, signed with ``key``; ``key_id`` is ``"csr"`` or a cert serial."""
    payload_text = dumps(payload)
    return dumps(
        {
            "header": {"type": message_type, "version": VERSION},
            "payload": payload_text,
            "signature": {
                "signing_type": crypto.SIGNING_TYPE,
                "key": key_id,
                "value": crypto.sign(key, payload_text.encode("utf-8")),
            },
        }
    )


def wrap_xml(text: str) -> str:
    """The legacy Call Home wrapper; ``]]>`` cannot sit inside CDATA, so it is split across two."""
    safe = text.replace("]]>", "]]]]><![CDATA[>")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{XML_ROOT}><{XML_MESSAGE}>'
        f"<![CDATA[{safe}]]></{XML_MESSAGE}></{XML_ROOT}>"
    )


class _NoDoctype(ET.TreeBuilder):
    """Refuses a document type declaration as the parser meets it, before any entity it would
    declare can be referenced: in every encoding the parser reads (a byte search for ``<!DOCTYPE``
    misses it in UTF-16). Standard library only, like the rest of the agent."""

    def doctype(self, name, pubid, system):
        raise InvalidReply("The XML reply carries a DTD or an entity declaration.")


def unwrap_xml(body: bytes) -> str:
    try:
        root = ET.fromstring(body, parser=ET.XMLParser(target=_NoDoctype()))
    except (ET.ParseError, LookupError, ValueError) as exc:  # LookupError: an encoding Python has no codec for
        raise InvalidReply("The XML reply is not well-formed.") from exc
    message = root.find(XML_MESSAGE) if root.tag == XML_ROOT else None
    if message is None or not (message.text or "").strip():
        raise InvalidReply("The XML reply is not <smartLicense><message>...</message></smartLicense>.")
    return (message.text or "").strip()  # not empty: checked above


def _object(text, what):
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidReply(f"The {what} is not JSON.") from exc
    if not isinstance(document, dict):
        raise InvalidReply(f"The {what} is not a JSON object.")
    return document


def _document(body: bytes) -> dict:
    try:
        text = unwrap_xml(body) if body.lstrip()[:1] == b"<" else body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidReply("The reply is not UTF-8.") from exc
    return _object(text, "reply")


def parse_reply(body: bytes, *, expected_type: str, chain, request_nonce=None) -> Reply:
    """Verify a reply envelope against ``chain`` (certificates); InvalidReply when anything is off.

    The signer is the chain certificate whose serial is ``signature.key``. Refused: an unsigned
    reply, a reply to another message type or version, a signature that does not verify over the
    exact payload bytes, a reply whose ``in_reply_to`` is not our request's nonce. One exception
    (docs/protocol.md "Replies to messages that cannot be tied to a local account"): a ``FAILED``
    reply signed by a key outside the chain comes back with ``verified=False`` — advisory only.
    """
    document = _document(body)
    header, payload_text, signature = document.get("header"), document.get("payload"), document.get("signature")
    if not isinstance(header, dict) or not isinstance(payload_text, str):
        raise InvalidReply("The reply has no header or no payload string.")
    if not isinstance(signature, dict) or not signature.get("value"):
        raise InvalidReply("The reply is not signed.")
    if header.get("version") != VERSION:
        raise InvalidReply(f"The reply has version {header.get('version')!r}, expected {VERSION!r}.")
    reply_type = header.get("type")
    if reply_type != f"{expected_type}_RESPONSE":
        raise InvalidReply(f"The reply has type {reply_type!r}, expected {expected_type}_RESPONSE.")
    if signature.get("signing_type") != crypto.SIGNING_TYPE:
        raise InvalidReply(f"The reply is signed with {signature.get('signing_type')!r}, not {crypto.SIGNING_TYPE}.")
    payload = _object(payload_text, "reply payload")
    key_id = str(signature.get("key", "")).lower()
    signer = next((cert for cert in chain if crypto.serial_hex(cert) == key_id), None)
    if signer is None:
        if payload.get("status") == "FAILED":
            return Reply(type=reply_type, payload=payload, payload_text=payload_text, signer=key_id, verified=False)
        raise InvalidReply(f"The reply is signed with key {key_id!r}, which is not in the server's chain.")
    if not crypto.verify(signer.public_key(), payload_text.encode("utf-8"), signature.get("value")):
        raise InvalidReply("The reply signature does not verify.")
    in_reply_to = payload.get("in_reply_to")
    if request_nonce is not None and in_reply_to is not None and in_reply_to != request_nonce:
        raise InvalidReply("The reply answers another request (in_reply_to does not match our nonce).")
    return Reply(type=reply_type, payload=payload, payload_text=payload_text, signer=key_id)


def peek_payload(body: bytes) -> dict:
    """The payload of a reply before it can be verified (REGISTER: the chain to verify it is inside)."""
    payload_text = _document(body).get("payload")
    if not isinstance(payload_text, str):
        raise InvalidReply("The reply has no payload string.")
    return _object(payload_text, "reply payload")
