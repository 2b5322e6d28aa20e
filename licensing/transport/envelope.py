"""The signed envelope of the device protocol (docs/protocol.md): parse the body, build replies.

Parsing is pure (no database): a body that is not a well-formed envelope raises
``Unparseable`` (HTTP 400); a body over the size limit never gets here (HTTP 413, see views).
The XML wrapper of the legacy Call Home path is read with defusedxml with DTDs forbidden: the
parser itself refuses any document type declaration, so no entity is ever declared or expanded,
whatever the body's encoding.
"""

import codecs
import json
import re
import secrets
import time
from dataclasses import dataclass

import defusedxml
import defusedxml.ElementTree as SafeET

from core import pki

VERSION = "1"
XML_ROOT, XML_MESSAGE = "smartLicense", "message"


class Unparseable(ValueError):
    """The body is not a signed envelope at all (HTTP 400)."""


@dataclass(frozen=True)
class Envelope:
    type: str
    version: str
    payload_text: str  # the exact string the signature covers
    payload: dict
    signing_type: str
    key: str
    signature: str
    xml: bool = False  # came in the XML wrapper: answer in it too

    @property
    def signed_bytes(self):
        return self.payload_text.encode("utf-8")


class UnstorableText(ValueError):
    """A JSON string holds NUL or an unpaired surrogate: no database column can store it."""


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _check_storable(value):
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            raise UnstorableText("Strings must not contain NUL (\\u0000) or unpaired surrogates (\\ud800-\\udfff).")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key)
            _check_storable(item)
    elif isinstance(value, list):
        for item in value:
            _check_storable(item)


def strict_json(text):
    """``text`` decoded as JSON: no NaN/Infinity, no duplicate keys, no NUL or unpaired surrogate
    in any string (PostgreSQL refuses NUL and UTF-8 cannot encode a lone surrogate, so either
    would fail a write or a lookup with a 500 far from here)."""

    def no_constants(name):
        raise ValueError(f"{name} is not JSON")

    def unique_object(pairs):
        keys = [key for key, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key")
        return dict(pairs)

    document = json.loads(text, parse_constant=no_constants, object_pairs_hook=unique_object)
    # Only a \u escape can put NUL or a surrogate into decoded JSON (a raw control character is a
    # JSON error, and decoded UTF-8 holds no surrogates): text without one needs no walk.
    if "\\u" in text:
        _check_storable(document)
    return document


def _xml_start(encoding, bom):
    space = b"|".join(re.escape(c.encode(encoding)) for c in " \t\r\n")
    return b"(?:" + re.escape(bom) + b")?(?:" + space + b")*" + re.escape("<".encode(encoding))


# How an XML document begins in each encoding an XML parser detects: an optional byte order mark,
# XML whitespace, then "<". Everything that begins so goes to the XML parser, which refuses a DTD
# in any of them, rather than to the JSON decoder with a vaguer refusal.
_XML_START = re.compile(
    b"|".join(
        _xml_start(encoding, bom)
        for encoding, bom in (
            ("utf-8", codecs.BOM_UTF8),
            ("utf-16-le", codecs.BOM_UTF16_LE),
            ("utf-16-be", codecs.BOM_UTF16_BE),
            ("utf-32-le", codecs.BOM_UTF32_LE),
            ("utf-32-be", codecs.BOM_UTF32_BE),
        )
    )
)


def looks_like_xml(body: bytes) -> bool:
    """Whether ``body`` starts like an XML document in UTF-8, UTF-16 or UTF-32, with or without a BOM."""
    return _XML_START.match(body) is not None


def unwrap_xml(body: bytes) -> str:
    """The JSON text inside ``<smartLicense><message><![CDATA[...]]></message></smartLicense>``."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise Unparseable("DTDs and entity declarations are not accepted.") from exc
    except LookupError as exc:  # the XML declaration names an encoding Python has no codec for
        raise Unparseable("The XML declaration names an unknown encoding.") from exc
    except (SafeET.ParseError, ValueError) as exc:
        raise Unparseable("The XML wrapper is not well-formed.") from exc
    message = root.find(XML_MESSAGE) if root.tag == XML_ROOT else None
    if message is None or len(root) != 1 or len(message) or not (message.text or "").strip():
        raise Unparseable("Expected <smartLicense><message><![CDATA[JSON]]></message></smartLicense>.")
    return message.text.strip()


def parse(body: bytes, *, allow_xml=False) -> Envelope:
    """The envelope in ``body`` (JSON, or the XML wrapper when ``allow_xml``); Unparseable if none."""
    is_xml = allow_xml and looks_like_xml(body)
    try:
        text = unwrap_xml(body) if is_xml else body.decode("utf-8")
        document = strict_json(text)
    except Unparseable:
        raise
    except UnicodeDecodeError as exc:
        raise Unparseable("The body is not UTF-8.") from exc
    except UnstorableText as exc:
        raise Unparseable(str(exc)) from exc
    except (ValueError, RecursionError) as exc:
        raise Unparseable("The body is not a JSON document.") from exc
    if not isinstance(document, dict):
        raise Unparseable("The envelope must be a JSON object.")
    header, payload_text, signature = document.get("header"), document.get("payload"), document.get("signature")
    if not (isinstance(header, dict) and isinstance(payload_text, str) and isinstance(signature, dict)):
        raise Unparseable("The envelope needs header (object), payload (string) and signature (object).")
    fields = (
        header.get("type"),
        header.get("version"),
        signature.get("signing_type"),
        signature.get("key"),
        signature.get("value"),
    )
    if not all(isinstance(value, str) for value in fields):
        raise Unparseable("header.type, header.version and signature.signing_type/key/value must be strings.")
    try:
        payload = strict_json(payload_text)
    except UnstorableText as exc:
        raise Unparseable(f"The payload is refused: {exc}") from exc
    except (ValueError, RecursionError) as exc:
        raise Unparseable("The payload is not a JSON document.") from exc
    if not isinstance(payload, dict):
        raise Unparseable("The payload must be a JSON object.")
    return Envelope(
        type=fields[0],
        version=fields[1],
        payload_text=payload_text,
        payload=payload,
        signing_type=fields[2],
        key=fields[3],
        signature=fields[4],
        xml=is_xml,
    )


def new_nonce():
    return secrets.token_urlsafe(18)


def now_ms():
    return int(time.time() * 1000)


def build_reply(message_type, payload: dict, *, key, key_serial_hex) -> str:
    """A signed reply envelope (JSON text). ``payload`` is serialised once; the signature covers it."""
    payload = {"timestamp": now_ms(), "nonce": new_nonce(), **payload}
    payload_text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, sort_keys=False)
    envelope = {
        "header": {"type": f"{message_type}_RESPONSE", "version": VERSION},
        "payload": payload_text,
        "signature": {
            "signing_type": pki.SIGNING_TYPE,
            "key": key_serial_hex,
            "value": pki.sign(key, payload_text.encode("utf-8")),
        },
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def wrap_xml(text: str) -> str:
    # "]]>" cannot occur in a CDATA section: split it across two sections.
    safe = text.replace("]]>", "]]]]><![CDATA[>")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{XML_ROOT}><{XML_MESSAGE}><![CDATA[{safe}]]>'
        f"</{XML_MESSAGE}></{XML_ROOT}>"
    )
