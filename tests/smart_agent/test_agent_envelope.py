"""Envelopes byte-exact both ways: what is signed is exactly the payload string that travels."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from smart_agent import crypto, envelope
from smart_agent.envelope import InvalidReply
from tests.smart_agent.agent_fake_server import self_signed


def test_request_envelope_signs_the_exact_payload_string():
    key = crypto.new_key()
    payload = {
        "timestamp": 1795437600000,
        "nonce": "n" * 24,
        "sudi": {"udi_pid": "CSR1000V", "udi_serial_number": "9A"},
        "software_tag": "regid.2014-05.com.cisco.CSR1000V,1.0_x",
        "hostname": "rtr-ü",
    }
    text = envelope.build("REGISTER", payload, key=key, key_id="csr")
    document = json.loads(text)
    assert list(document) == ["header", "payload", "signature"]
    assert document["header"] == {"type": "REGISTER", "version": "1"}
    assert isinstance(document["payload"], str) and json.loads(document["payload"]) == payload
    # Compact, key order kept, non-ASCII as UTF-8: the string is what the device serialised once.
    assert document["payload"] == json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    signature = document["signature"]
    assert signature["signing_type"] == "ecdsa-p256-sha256" and signature["key"] == "csr"
    der = base64.b64decode(signature["value"], validate=True)
    key.public_key().verify(der, document["payload"].encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    # One changed byte and the signature no longer holds.
    assert not crypto.verify(key.public_key(), document["payload"].replace("rtr", "rtx").encode(), signature["value"])


def test_nonce_and_timestamp():
    nonces = {envelope.new_nonce() for _ in range(1000)}
    assert len(nonces) == 1000 and all(16 <= len(n) <= 128 and n.isascii() for n in nonces)
    assert abs(envelope.now_ms() - __import__("time").time() * 1000) < 1000


def _reply(key, cert, payload, *, message_type="AUTHORIZE_RESPONSE", key_id=None, signature_value=None):
    text = json.dumps(payload, separators=(",", ":"))
    return json.dumps(
        {
            "header": {"type": message_type, "version": "1"},
            "payload": text,
            "signature": {
                "signing_type": "ecdsa-p256-sha256",
                "key": key_id or crypto.serial_hex(cert),
                "value": signature_value or crypto.sign(key, text.encode()),
            },
        }
    ).encode(), text


@pytest.fixture
def authority():
    return self_signed("signing")


def test_good_reply_verifies(authority):
    key, cert = authority
    body, text = _reply(key, cert, {"status": "SUCCESS", "in_reply_to": "abc" * 6, "x": "é"})
    reply = envelope.parse_reply(body, expected_type="AUTHORIZE", chain=[cert], request_nonce="abc" * 6)
    assert reply.verified and reply.status == "SUCCESS" and reply.payload_text == text
    assert reply.signer == crypto.serial_hex(cert)


def test_tampered_payload_is_refused(authority):
    key, cert = authority
    body, text = _reply(key, cert, {"status": "SUCCESS", "count": 1})
    tampered = body.replace(b'\\"count\\":1', b'\\"count\\":9')
    assert tampered != body
    with pytest.raises(InvalidReply, match="does not verify"):
        envelope.parse_reply(tampered, expected_type="AUTHORIZE", chain=[cert])


def test_wrong_key_is_refused(authority):
    key, cert = authority
    impostor_key, _ = self_signed("impostor")
    body, _ = _reply(impostor_key, cert, {"status": "SUCCESS"})  # names our signer, signed by another key
    with pytest.raises(InvalidReply, match="does not verify"):
        envelope.parse_reply(body, expected_type="AUTHORIZE", chain=[cert])


def test_signer_outside_the_chain(authority):
    key, cert = authority
    other_key, other = self_signed("other authority")
    body, _ = _reply(other_key, other, {"status": "SUCCESS"})
    with pytest.raises(InvalidReply, match="not in the server's chain"):
        envelope.parse_reply(body, expected_type="AUTHORIZE", chain=[cert])
    # A FAILED from an authority we do not know is advisory, flagged as unverified.
    body, _ = _reply(other_key, other, {"status": "FAILED", "error_code": "NOT_REGISTERED"})
    reply = envelope.parse_reply(body, expected_type="AUTHORIZE", chain=[cert])
    assert reply.verified is False and reply.payload["error_code"] == "NOT_REGISTERED"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("signature"), "not signed"),
        (lambda d: d.__setitem__("signature", {"signing_type": "ecdsa-p256-sha256", "key": "1"}), "not signed"),
        (lambda d: d["header"].__setitem__("type", "REGISTER_RESPONSE"), "expected AUTHORIZE_RESPONSE"),
        (lambda d: d["header"].__setitem__("version", "2"), "version"),
        (lambda d: d["signature"].__setitem__("signing_type", "rsa"), "signed with 'rsa'"),
        (lambda d: d.__setitem__("payload", {"status": "SUCCESS"}), "no payload string"),
    ],
)
def test_malformed_replies_are_refused(authority, mutate, message):
    key, cert = authority
    body, _ = _reply(key, cert, {"status": "FAILED"})
    document = json.loads(body)
    mutate(document)
    with pytest.raises(InvalidReply, match=message):
        envelope.parse_reply(json.dumps(document).encode(), expected_type="AUTHORIZE", chain=[cert])


def test_reply_to_another_request_is_refused(authority):
    key, cert = authority
    body, _ = _reply(key, cert, {"status": "SUCCESS", "in_reply_to": "another-nonce-000000"})
    with pytest.raises(InvalidReply, match="in_reply_to"):
        envelope.parse_reply(body, expected_type="AUTHORIZE", chain=[cert], request_nonce="our-nonce-0000000000")


def test_not_json_and_not_utf8():
    with pytest.raises(InvalidReply):
        envelope.parse_reply(b"<html>busy</html>", expected_type="AUTHORIZE", chain=[])
    with pytest.raises(InvalidReply, match="UTF-8"):
        envelope.parse_reply(b"\xff\xfe", expected_type="AUTHORIZE", chain=[])
    with pytest.raises(InvalidReply, match="not JSON"):
        envelope.parse_reply(b"{nope", expected_type="AUTHORIZE", chain=[])


def test_xml_wrapper_round_trip_and_entities_refused(authority):
    key, cert = authority
    body, text = _reply(key, cert, {"status": "SUCCESS", "odd": "]]>"})
    wrapped = envelope.wrap_xml(body.decode()).encode()
    assert envelope.unwrap_xml(wrapped) == body.decode()
    assert envelope.parse_reply(wrapped, expected_type="AUTHORIZE", chain=[cert]).payload["odd"] == "]]>"
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><smartLicense><message>&e;</message></smartLicense>'
    with pytest.raises(InvalidReply, match="DTD"):
        envelope.unwrap_xml(evil)


def test_chain_checks(authority):
    key, cert = authority
    crypto.check_chain([cert])
    _, stranger = self_signed("stranger")
    with pytest.raises(crypto.ChainError, match="trusted CA"):
        crypto.check_chain([cert], anchors=[stranger])
    crypto.check_chain([cert], anchors=[cert])
    device_key = crypto.new_key()
    _, leaf = self_signed("not issued by the authority", ca=False, key=device_key)
    with pytest.raises(crypto.ChainError):
        crypto.check_issued(leaf, [cert], device_key.public_key())


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "utf-16-be", "utf-16", "utf-8-sig"])
def test_an_xml_reply_with_a_dtd_is_refused_in_any_encoding(authority, encoding):
    """An entity holding a whole reply, in a body a byte search for <!DOCTYPE does not see through."""
    key, cert = authority
    body, _ = _reply(key, cert, {"status": "SUCCESS"})
    value = body.decode().replace("&", "&#38;#38;").replace('"', "&#34;")
    evil = f'<!DOCTYPE smartLicense [<!ENTITY e "{value}">]><smartLicense><message>&e;</message></smartLicense>'.encode(
        encoding
    )
    with pytest.raises(InvalidReply):
        envelope.parse_reply(evil, expected_type="AUTHORIZE", chain=[cert])
    if encoding in ("utf-8", "utf-16-le"):  # the ones read as XML at all: refused by the parser, for its DTD
        with pytest.raises(InvalidReply, match="DTD"):
            envelope.unwrap_xml(evil)
