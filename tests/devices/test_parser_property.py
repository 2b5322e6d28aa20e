"""Property: whatever malformed envelope is thrown at the endpoints, the answer is a 4xx or a
200 FAILED — never a 5xx — and nothing is written."""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.devices.devicesim import CALL_HOME, SMART_TRANSPORT, row_counts, sign

pytestmark = pytest.mark.django_db

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
types = st.sampled_from(
    [
        "REGISTER",
        "RENEW_ID",
        "AUTHORIZE",
        "DEREGISTER",
        "REPORT_USAGE",
        "EXPORT_AUTHORIZE",
        "EXPORT_RETURN",
        "CONVERT",
        "POLL",
        "",
        "register",
        "X" * 300,
    ]
)
payload_fields = st.fixed_dictionaries(
    {},
    optional={
        "timestamp": json_values,
        "nonce": json_values,
        "sudi": json_values,
        "software_tag": json_values,
        "id_token": json_values,
        "csr": json_values,
        "entitlements": json_values,
        "reports": json_values,
        "poll_id": json_values,
        "licenses": json_values,
        "app_redundancy": json_values,
        "force": json_values,
    },
)


def _envelope(message_type, payload_text, key, value, signing_type="ecdsa-p256-sha256", version="1"):
    return {
        "header": {"type": message_type, "version": version},
        "payload": payload_text,
        "signature": {"signing_type": signing_type, "key": key, "value": value},
    }


@st.composite
def malformed_bodies(draw, known_serials=()):
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:
        return json.dumps(draw(json_values)).encode()
    if kind == 2:  # the right shape, random contents
        return json.dumps(
            _envelope(
                draw(types),
                draw(st.text(max_size=200)),
                draw(st.text(max_size=50)),
                draw(st.text(max_size=100)),
                draw(st.text(max_size=20)),
                draw(st.text(max_size=3)),
            )
        ).encode()
    # a payload of random fields, "signed" with a random key: never a valid message
    key = ec.generate_private_key(ec.SECP256R1())
    text = json.dumps(draw(payload_fields))
    value = sign(key, text.encode()) if kind == 3 else draw(st.text(max_size=100))
    return json.dumps(
        _envelope(draw(types), text, draw(st.sampled_from(["csr", "0", "ab", "zz", *known_serials])), value)
    ).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), xml=st.booleans())
def test_malformed_envelopes_never_5xx_and_write_nothing(client, registered_once, data, xml):
    # the registered device's real serial too: garbage signed "by" a real certificate
    body = data.draw(malformed_bodies(known_serials=(registered_once.cert_serial,)))
    before = row_counts()
    if xml:
        response = client.post(
            CALL_HOME,
            data=b"<smartLicense><message><![CDATA[" + body + b"]]></message></smartLicense>",
            content_type="application/xml",
        )
    else:
        response = client.post(SMART_TRANSPORT, data=body, content_type="application/json")
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 200:
        text = response.content.decode()
        if xml:
            text = text.split("<![CDATA[", 1)[1].rsplit("]]>", 1)[0]
        assert json.loads(json.loads(text)["payload"])["status"] == "FAILED"
    assert row_counts() == before


@pytest.fixture
def registered_once(registered):
    """One registered device, so that certificate-keyed garbage meets real rows too."""
    return registered()


# -- odd UDIs: whatever a device calls itself, a certificate, a MALFORMED or a 400, never a 5xx ----

# Characters that broke or could break a name or a write: PrintableString's outsiders, controls,
# format characters, NUL and lone surrogates (which JSON can only carry escaped).
ODD_CHARACTERS = [
    "_",
    "@",
    "é",
    "序",
    "\U0001f600",
    "\x00",
    "\x1b",
    "\n",
    "\x7f",
    "\u202e",
    "\u200b",
    "\u2028",
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    " ",
    "*",
    "&",
    "<",
    '"',
    "\\",
]
odd_texts = st.one_of(
    st.sampled_from(
        [
            "ABC_1",
            "ABC@1",
            "ABCé1",
            "",
            " ",
            "A" * 255,
            "A" * 256,
            "é" * 255,
            "é" * 256,
            "A\x00B",
            "\ud800",
            "A\nB",
            "ABC\u202e1",
            "FOC2412X0AB",
        ]
    ),
    st.text(alphabet=st.one_of(st.characters(exclude_categories=()), st.sampled_from(ODD_CHARACTERS)), max_size=300),
    st.text(alphabet=st.sampled_from(ODD_CHARACTERS + ["A", "1", "-"]), min_size=1, max_size=80),
)


def _as_received(text):
    """``text`` as the server decodes it from the JSON payload: an escaped high+low surrogate pair
    is one astral character there, whatever two code points the test generated."""
    return json.loads(json.dumps(text))


def _storable(text):
    return not any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in _as_received(text))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=odd_texts, field=st.sampled_from(["udi_serial_number", "udi_pid"]))
def test_register_with_an_odd_udi_never_5xx(device, token, value, field):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from core import pki
    from tests.devices.devicesim import make_csr

    tok = token()
    dev = device()
    dev.sudi[field] = value
    before = row_counts()
    response = dev.post(dev.envelope("REGISTER", dev.payload(id_token=tok.token, csr=make_csr(dev.key))))
    if not _storable(value):
        assert response.status_code == 400, response.content[:300]
        assert row_counts() == before
        return
    assert response.status_code == 200, response.content[:300]
    reply = json.loads(json.loads(response.content)["payload"])
    value = _as_received(value)
    if not (1 <= len(value) <= 255 and value.isprintable()):
        assert (reply["status"], reply["error_code"]) == ("FAILED", "MALFORMED"), reply
        assert field in reply["message"]
        assert row_counts() == before
        return
    assert reply["status"] == "SUCCESS", reply
    cert = x509.load_pem_x509_certificate(reply["id_certificate"].encode())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(reply["certificate_chain"][0].encode()))
    pid, serial = _as_received(dev.sudi["udi_pid"]), _as_received(dev.sudi["udi_serial_number"])
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == pki.clip_name(
        f"PID:{pid} SN:{serial}"
    )
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == pki.clip_name(f"{pid}:{serial}")


# -- hostile XML: DTDs, entities, billion laughs, external entities in UTF-8/16/32, with and without BOM --

XML_ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
XML_REFUSALS = {
    "DTDs and entity declarations are not accepted.",
    "The XML wrapper is not well-formed.",
    "The XML declaration names an unknown encoding.",
}


def _entity_value(text):
    return text.replace("&", "&#38;#38;").replace('"', "&#34;").replace("%", "&#37;")


@st.composite
def hostile_xml(draw, envelope_text):
    """A Call Home body carrying a DTD, built around a valid envelope a parser that expands would process."""
    attack = draw(
        st.sampled_from(
            [
                "entity-envelope",
                "laughs",
                "quadratic",
                "external-file",
                "external-url",
                "external-dtd",
                "parameter",
                "bare-doctype",
                "unused-entity",
            ]
        )
    )
    cdata = f"<![CDATA[{envelope_text}]]>"
    if attack == "entity-envelope":
        dtd, message = f'<!DOCTYPE smartLicense [<!ENTITY e "{_entity_value(envelope_text)}">]>', "&e;"
    elif attack == "laughs":
        levels = draw(st.integers(2, 9))
        entities = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, levels + 1))
        dtd, message = f'<!DOCTYPE s [<!ENTITY l0 "lol">{entities}]>', f"&l{levels};"
    elif attack == "quadratic":
        dtd, message = f'<!DOCTYPE s [<!ENTITY a "{"x" * 5000}">]>', "&a;" * draw(st.integers(1, 200))
    elif attack == "external-file":
        dtd, message = '<!DOCTYPE s [<!ENTITY e SYSTEM "file:///etc/passwd">]>', "&e;"
    elif attack == "external-url":
        dtd, message = '<!DOCTYPE s [<!ENTITY e SYSTEM "http://127.0.0.1:9/e">]>', "&e;"
    elif attack == "external-dtd":
        dtd, message = '<!DOCTYPE smartLicense SYSTEM "http://127.0.0.1:9/s.dtd">', cdata
    elif attack == "parameter":
        dtd, message = '<!DOCTYPE s [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', cdata
    elif attack == "bare-doctype":
        dtd, message = "<!DOCTYPE smartLicense>", cdata
    else:
        dtd, message = '<!DOCTYPE s [<!ENTITY e "x">]>', cdata
    encoding = draw(st.sampled_from(XML_ENCODINGS))
    declared = draw(st.sampled_from([None, encoding.removesuffix("-sig"), "UTF-8", "UTF-16", "ISO-8859-1", "bogus"]))
    declaration = "" if declared is None else f'<?xml version="1.0" encoding="{declared}"?>'
    space = draw(st.sampled_from(["", "\n", " "]))
    text = f"{declaration}{space}{dtd}<smartLicense><message>{message}</message></smartLicense>"
    return text.encode(encoding)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_xml_with_a_dtd_is_400_in_any_encoding_and_writes_nothing(device, token, data):
    from tests.devices.devicesim import make_csr

    tok = token()
    dev = device()
    envelope = json.dumps(dev.envelope("REGISTER", dev.payload(id_token=tok.token, csr=make_csr(dev.key))))
    body = data.draw(hostile_xml(envelope))
    before = row_counts()
    response = dev.client.post(CALL_HOME, data=body, content_type="application/xml")
    assert response.status_code == 400, response.content[:300]
    document = json.loads(response.content)
    assert document["error_code"] == "MALFORMED" and document["message"] in XML_REFUSALS, document
    assert row_counts() == before
    tok.refresh_from_db()
    assert tok.uses == 0
