"""The envelope pipeline: what is refused, how, and that a refused message writes nothing."""

import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.devices.devicesim import CALL_HOME, SMART_TRANSPORT, make_csr, row_counts, sign

pytestmark = pytest.mark.django_db


def _reply(response):
    assert response.status_code == 200, response.content[:300]
    return json.loads(json.loads(response.content)["payload"])


def _refused(dev, envelope, code, path=SMART_TRANSPORT):
    before = row_counts()
    reply = _reply(dev.post(envelope, path))
    assert reply["status"] == "FAILED", reply
    assert reply["error_code"] == code, reply
    assert row_counts() == before  # nothing written: no nonce, no usage, no event, no contact
    return reply


def test_tampered_payload_is_refused(registered, license_def):
    lic = license_def("Any")
    dev = registered()
    envelope = dev.envelope("AUTHORIZE", dev.payload(entitlements=[{"tag": lic.entitlement_tag, "count": 1}]))
    envelope["payload"] = envelope["payload"].replace('"count": 1', '"count": 9')
    _refused(dev, envelope, "BAD_SIGNATURE")


def test_whitespace_change_breaks_the_signature_too(registered):
    dev = registered()
    envelope = dev.envelope("AUTHORIZE", dev.payload(entitlements=[]))
    envelope["payload"] = envelope["payload"] + " "
    _refused(dev, envelope, "BAD_SIGNATURE")


def test_wrong_key_is_refused(registered):
    dev = registered()
    other_key = ec.generate_private_key(ec.SECP256R1())
    _refused(dev, dev.envelope("AUTHORIZE", dev.payload(entitlements=[]), signing_key=other_key), "BAD_SIGNATURE")


def test_another_devices_certificate_is_refused(registered):
    first, second = registered(), registered()
    # second signs correctly with its own key but names first's certificate
    envelope = second.envelope("AUTHORIZE", second.payload(entitlements=[]), key=first.cert_serial)
    _refused(second, envelope, "BAD_SIGNATURE")
    # first's key, first's certificate, but claiming to be second
    envelope = first.envelope("AUTHORIZE", first.payload(entitlements=[], sudi=second.sudi))
    _refused(first, envelope, "NOT_REGISTERED")


def test_unknown_certificate_serial_is_not_registered(registered):
    dev = registered()
    upper = dev.envelope("AUTHORIZE", dev.payload(entitlements=[]), key=dev.cert_serial.upper())
    assert _reply(dev.post(upper))["status"] == "SUCCESS"  # lowercase is the contract; either is accepted
    _refused(dev, dev.envelope("AUTHORIZE", dev.payload(entitlements=[]), key="abc123"), "NOT_REGISTERED")


def test_register_with_a_signature_not_made_by_the_csr_key(device, token):
    tok = token()
    dev = device()
    other = ec.generate_private_key(ec.SECP256R1())
    payload = dev.payload(id_token=tok.token, csr=make_csr(other))  # CSR of another key
    _refused(dev, dev.envelope("REGISTER", payload), "BAD_SIGNATURE")
    tok.refresh_from_db()
    assert tok.uses == 0


def test_csr_key_on_a_later_message_is_not_enough(registered):
    dev = registered()
    _refused(
        dev, dev.envelope("AUTHORIZE", dev.payload(entitlements=[], csr=make_csr(dev.key)), key="csr"), "NOT_REGISTERED"
    )


def test_replay_is_refused_and_writes_nothing(registered, license_def):
    lic = license_def("Any")
    dev = registered()
    envelope = dev.envelope("AUTHORIZE", dev.payload(entitlements=[{"tag": lic.entitlement_tag, "count": 1}]))
    assert _reply(dev.post(envelope))["status"] == "SUCCESS"
    _refused(dev, envelope, "REPLAY")


def test_replayed_register_does_not_use_the_token_twice(device, token):
    tok = token()
    dev = device()
    envelope = dev.envelope("REGISTER", dev.payload(id_token=tok.token, csr=make_csr(dev.key)))
    assert _reply(dev.post(envelope))["status"] == "SUCCESS"
    _refused(dev, envelope, "REPLAY")
    tok.refresh_from_db()
    assert tok.uses == 1


@pytest.mark.parametrize("offset_hours", [24.1, -24.1, 1000])
def test_clock_skew_is_refused(registered, offset_hours):
    dev = registered()
    stamp = int((time.time() + offset_hours * 3600) * 1000)
    reply = _refused(dev, dev.envelope("AUTHORIZE", dev.payload(entitlements=[], timestamp=stamp)), "TIME_SKEW")
    assert "within 24-hours" in reply["message"]


def test_clock_within_the_window_is_accepted(registered):
    dev = registered()
    stamp = int((time.time() - 23.9 * 3600) * 1000)
    assert (
        _reply(dev.post(dev.envelope("AUTHORIZE", dev.payload(entitlements=[], timestamp=stamp))))["status"]
        == "SUCCESS"
    )


def test_register_with_clock_skew_uses_no_token(device, token):
    tok = token()
    dev = device()
    stamp = int((time.time() - 48 * 3600) * 1000)
    _refused(
        dev,
        dev.envelope("REGISTER", dev.payload(id_token=tok.token, csr=make_csr(dev.key), timestamp=stamp)),
        "TIME_SKEW",
    )


@pytest.mark.parametrize(
    "change, code",
    [
        (lambda p: p.pop("nonce"), "MALFORMED"),
        (lambda p: p.update(nonce="short"), "MALFORMED"),
        (lambda p: p.update(timestamp="yesterday"), "MALFORMED"),
        (lambda p: p.update(timestamp=True), "MALFORMED"),
        (lambda p: p.pop("sudi"), "MALFORMED"),
        (lambda p: p["sudi"].pop("udi_serial_number"), "MALFORMED"),
        (lambda p: p.pop("software_tag"), "MALFORMED"),
        (lambda p: p.update(entitlements="all"), "MALFORMED"),
        (lambda p: p.update(entitlements=[{"tag": "x", "count": -1}]), "MALFORMED"),
        (lambda p: p.update(entitlements=[{"tag": "x", "count": 1.5}]), "MALFORMED"),
        (lambda p: p.update(app_redundancy={"app_role": "LEADER", "app_id": "1"}), "MALFORMED"),
    ],
)
def test_malformed_payloads(registered, change, code):
    dev = registered()
    payload = dev.payload(entitlements=[])
    change(payload)
    _refused(dev, dev.envelope("AUTHORIZE", payload), code)


def test_unknown_type_version_and_signing_type(registered):
    dev = registered()
    envelope = dev.envelope("SELF_DESTRUCT", dev.payload())
    assert _refused(dev, envelope, "MALFORMED")
    assert json.loads(dev.last_response.content)["header"]["type"] == "MESSAGE_RESPONSE"
    envelope = dev.envelope("AUTHORIZE", dev.payload(entitlements=[]))
    envelope["header"]["version"] = "2"
    _refused(dev, envelope, "MALFORMED")
    envelope = dev.envelope("AUTHORIZE", dev.payload(entitlements=[]))
    envelope["signature"]["signing_type"] = "rsa-sha1"
    _refused(dev, envelope, "BAD_SIGNATURE")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"garbage",
        b"[]",
        b'"text"',
        b"{}",
        b'{"header": {}, "payload": {}, "signature": {}}',
        b'{"header": {"type": "AUTHORIZE", "version": "1"}, "payload": "not json", '
        b'"signature": {"signing_type": "ecdsa-p256-sha256", "key": "csr", "value": "x"}}',
        b'{"header": {"type": "AUTHORIZE", "version": "1"}, "payload": "[1]", '
        b'"signature": {"signing_type": "ecdsa-p256-sha256", "key": "csr", "value": "x"}}',
        b'{"header": {"type": 1, "version": "1"}, "payload": "{}", '
        b'"signature": {"signing_type": "ecdsa-p256-sha256", "key": "csr", "value": "x"}}',
        b"\xff\xfe\x00",
        b'{"header": {"type": "A", "version": "1"}, "header": {"type": "B", "version": "1"}}',
        b"[" * 100_000,
    ],
)
def test_unparseable_bodies_are_400_and_write_nothing(device, body):
    dev = device()
    before = row_counts()
    response = dev.post(body)
    assert response.status_code == 400
    assert json.loads(response.content)["error_code"] == "MALFORMED"
    assert row_counts() == before


def test_oversized_body_is_413(device, settings):
    settings.ONPREM_DEVICE_MAX_MESSAGE_BYTES = 4096
    dev = device()
    before = row_counts()
    response = dev.post(dev.envelope("AUTHORIZE", dev.payload(entitlements=[], padding="x" * 5000)))
    assert response.status_code == 413
    assert row_counts() == before
    assert dev.post(dev.envelope("AUTHORIZE", dev.payload(entitlements=[]))).status_code == 200


def test_only_post(client):
    assert client.get(SMART_TRANSPORT).status_code == 405
    assert client.get(CALL_HOME).status_code == 405


def test_no_csrf_and_no_session_needed(device, token):
    from django.test import Client

    dev = device()
    dev.client = Client(enforce_csrf_checks=True)
    assert dev.register(token())["status"] == "SUCCESS"
    assert "onprem_session" not in dev.last_response.cookies


# -- the legacy Call Home path -------------------------------------------------------------------


def _xml(envelope):
    return ("<smartLicense><message><![CDATA[" + json.dumps(envelope) + "]]></message></smartLicense>").encode()


def test_call_home_accepts_json_and_the_xml_wrapper(device, token):
    tok = token()
    dev = device()
    envelope = dev.envelope("REGISTER", dev.payload(id_token=tok.token, csr=make_csr(dev.key)))
    response = dev.client.post(CALL_HOME, data=_xml(envelope), content_type="application/xml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    text = response.content.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?><smartLicense><message><![CDATA[')
    reply_envelope = json.loads(text.split("<![CDATA[", 1)[1].rsplit("]]>", 1)[0])
    reply = json.loads(reply_envelope["payload"])
    assert reply["status"] == "SUCCESS"
    dev.cert_serial, dev.chain = reply["id_certificate_serial"], reply["certificate_chain"]
    # JSON on the same path
    assert dev.send("AUTHORIZE", path=CALL_HOME, entitlements=[])["status"] == "SUCCESS"
    from licensing.models import DeviceIdentity

    assert DeviceIdentity.objects.get().transport == "call_home"


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]>'
        b"<smartLicense><message>&lol;</message></smartLicense>",
        b'<!DOCTYPE smartLicense SYSTEM "file:///etc/passwd"><smartLicense><message>x</message></smartLicense>',
        b"<smartLicense><message>not json</message></smartLicense>",
        b"<smartLicense><other>{}</other></smartLicense>",
        b"<smartLicense><message><![CDATA[{}]]></message><message>2</message></smartLicense>",
        b"<notclosed>",
        b"<smartLicense></smartLicense>",
    ],
)
def test_bad_xml_is_400(device, body):
    dev = device()
    before = row_counts()
    response = dev.client.post(CALL_HOME, data=body, content_type="application/xml")
    assert response.status_code == 400
    assert row_counts() == before


def test_smart_transport_does_not_take_xml(device, token):
    dev = device()
    envelope = dev.envelope("REGISTER", dev.payload(id_token=token().token, csr=make_csr(dev.key)))
    assert dev.client.post(SMART_TRANSPORT, data=_xml(envelope), content_type="application/xml").status_code == 400


def test_signature_helper_is_real():
    key = ec.generate_private_key(ec.SECP256R1())
    from core import pki

    assert pki.verify(key.public_key(), b"abc", sign(key, b"abc"))
    assert not pki.verify(key.public_key(), b"abd", sign(key, b"abc"))
    assert not pki.verify(key.public_key(), b"abc", "not base64!")


def test_message_query_count_is_pinned(registered, license_def, add_line, default_va, django_assert_max_num_queries):
    lic = license_def("Pinned")
    add_line(default_va, lic, 3)
    dev = registered()
    dev.send("AUTHORIZE", entitlements=[{"tag": lic.entitlement_tag, "count": 1}])
    # In a test the transaction is a savepoint (2 statements); in production BEGIN/COMMIT are not queries.
    with django_assert_max_num_queries(14):
        response = dev.post(
            dev.envelope("AUTHORIZE", dev.payload(entitlements=[{"tag": lic.entitlement_tag, "count": 2}]))
        )
    assert _reply(response)["status"] == "SUCCESS"
    with django_assert_max_num_queries(11):
        response = dev.post(
            dev.envelope(
                "REPORT_USAGE",
                dev.payload(
                    reports=[
                        {
                            "header": {"type": "rum"},
                            "payload": json.dumps(
                                {"report_id": "r1", "usage": [{"tag": lic.entitlement_tag, "count": 1}]}
                            ),
                            "signature": {"signing_type": "ecdsa-p256-sha256", "key": "k", "value": "v"},
                        }
                    ]
                ),
            )
        )
    assert _reply(response)["status"] == "SUCCESS"
    with django_assert_max_num_queries(1):  # the certificate, to sign the refusal with the device's authority
        response = dev.post(dev.envelope("AUTHORIZE", dev.payload(entitlements=[], nonce="x" * 3)))
    assert _reply(response)["error_code"] == "MALFORMED"


def test_register_query_count_is_pinned(device, token, django_assert_max_num_queries):
    tok = token()
    device().register(tok)  # the account's signing authority exists from now on
    dev = device()
    envelope = dev.envelope("REGISTER", dev.payload(id_token=tok.token, csr=make_csr(dev.key)))
    # 11 in production (the test's savepoints add 4): certificate-less, so no certificate lookup.
    # Databases with row locks (Postgres) take the virtual account's lock in one more statement
    # before counting registrations against its limit (licensing/services/registration_limits.py).
    from django.db import connection

    with django_assert_max_num_queries(16 if connection.features.has_select_for_update else 15):
        response = dev.post(envelope)
    assert _reply(response)["status"] == "SUCCESS"


# -- hostile XML: DTDs and entities in every encoding an XML parser reads --------------------------

DTD_REFUSED = "DTDs and entity declarations are not accepted."
XML_ENCODINGS = ["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "utf-16", "utf-32-le", "utf-32-be", "utf-32"]


def _entity_wrapped(envelope):
    """The XML wrapper whose message is an internal entity holding ``envelope``: expanded, a valid message."""
    text = json.dumps(envelope).replace("&", "&#38;#38;").replace('"', "&#34;").replace("%", "&#37;")
    return (
        f'<!DOCTYPE smartLicense [<!ENTITY envelope "{text}">]>'
        "<smartLicense><message>&envelope;</message></smartLicense>"
    )


def _post_xml(client, body):
    before = row_counts()
    response = client.post(CALL_HOME, data=body, content_type="application/xml")
    assert row_counts() == before
    assert response.status_code == 400, response.content[:300]
    document = json.loads(response.content)
    assert document["error_code"] == "MALFORMED"
    return document["message"]


@pytest.mark.parametrize("encoding", XML_ENCODINGS)
def test_an_entity_holding_a_valid_envelope_is_refused_in_any_encoding(device, token, encoding):
    tok = token()
    dev = device()
    envelope = dev.envelope("REGISTER", dev.payload(id_token=tok.token, csr=make_csr(dev.key)))
    message = _post_xml(dev.client, _entity_wrapped(envelope).encode(encoding))
    # expat reads no UTF-32: such a body is not XML to it at all
    assert message == ("The XML wrapper is not well-formed." if "32" in encoding else DTD_REFUSED)
    tok.refresh_from_db()
    assert tok.uses == 0


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16-le", "utf-16-be", "utf-16"])
def test_the_xml_wrapper_is_read_in_utf16_and_with_a_byte_order_mark(device, token, encoding):
    """Without a DTD, the same wrapper is read in whatever encoding the parser detects."""
    dev = device()
    envelope = dev.envelope("REGISTER", dev.payload(id_token=token().token, csr=make_csr(dev.key)))
    response = dev.client.post(CALL_HOME, data=_xml(envelope).decode().encode(encoding), content_type="application/xml")
    assert response.status_code == 200, response.content[:300]
    text = response.content.decode()
    assert json.loads(json.loads(text.split("<![CDATA[", 1)[1].rsplit("]]>", 1)[0])["payload"])["status"] == "SUCCESS"


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1 if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]><smartLicense><message>&lol9;</message></smartLicense>"
)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(LAUGHS, id="billion-laughs"),
        pytest.param(
            '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><smartLicense><message>&e;</message></smartLicense>',
            id="external-file-entity",
        ),
        pytest.param(
            '<!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:9/x">]><smartLicense><message>&e;</message>'
            "</smartLicense>",
            id="external-url-entity",
        ),
        pytest.param(
            '<!DOCTYPE smartLicense SYSTEM "http://127.0.0.1:9/x.dtd"><smartLicense><message>x</message>'
            "</smartLicense>",
            id="external-dtd",
        ),
        pytest.param(
            '<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><smartLicense><message>x</message>'
            "</smartLicense>",
            id="parameter-entity",
        ),
        pytest.param("<!DOCTYPE smartLicense><smartLicense><message>x</message></smartLicense>", id="bare-doctype"),
        pytest.param(
            '<!DOCTYPE x [<!ENTITY e "x">]><smartLicense><message>y</message></smartLicense>', id="unused-entity"
        ),
    ],
)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "utf-16-be", "utf-16"])
def test_billion_laughs_external_entities_and_any_dtd_are_refused(client, body, encoding):
    assert _post_xml(client, body.encode(encoding)) == DTD_REFUSED


@pytest.mark.parametrize("declared", ["bogus", "rot13", "hex", "zlib_codec", "mbcs"])
def test_an_xml_declaration_naming_an_unknown_encoding_is_400(client, declared):
    body = f'<?xml version="1.0" encoding="{declared}"?><smartLicense><message>x</message></smartLicense>'
    assert _post_xml(client, body.encode()) == "The XML declaration names an unknown encoding."
