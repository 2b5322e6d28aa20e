"""Property: whatever malformed envelope is thrown at the endpoints, the answer is a 4xx or a
200 FAILED — never a 5xx — and nothing is written."""
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from devicesim import CALL_HOME, SMART_TRANSPORT, row_counts, sign
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
types = st.sampled_from(["REGISTER", "RENEW_ID", "AUTHORIZE", "DEREGISTER", "REPORT_USAGE", "EXPORT_AUTHORIZE",
                         "EXPORT_RETURN", "CONVERT", "POLL", "", "register", "X" * 300])
payload_fields = st.fixed_dictionaries({}, optional={
    "timestamp": json_values, "nonce": json_values, "sudi": json_values, "software_tag": json_values,
    "id_token": json_values, "csr": json_values, "entitlements": json_values, "reports": json_values,
    "poll_id": json_values, "licenses": json_values, "app_redundancy": json_values, "force": json_values,
})


def _envelope(message_type, payload_text, key, value, signing_type="ecdsa-p256-sha256", version="1"):
    return {"header": {"type": message_type, "version": version}, "payload": payload_text,
            "signature": {"signing_type": signing_type, "key": key, "value": value}}


@st.composite
def malformed_bodies(draw, known_serials=()):
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:
        return json.dumps(draw(json_values)).encode()
    if kind == 2:  # the right shape, random contents
        return json.dumps(_envelope(draw(types), draw(st.text(max_size=200)), draw(st.text(max_size=50)),
                                    draw(st.text(max_size=100)), draw(st.text(max_size=20)),
                                    draw(st.text(max_size=3)))).encode()
    # a payload of random fields, "signed" with a random key: never a valid message
    key = ec.generate_private_key(ec.SECP256R1())
    text = json.dumps(draw(payload_fields))
    value = sign(key, text.encode()) if kind == 3 else draw(st.text(max_size=100))
    return json.dumps(_envelope(draw(types), text, draw(st.sampled_from(["csr", "0", "ab", "zz", *known_serials])), value)).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), xml=st.booleans())
def test_malformed_envelopes_never_5xx_and_write_nothing(client, registered_once, data, xml):
    # the registered device's real serial too: garbage signed "by" a real certificate
    body = data.draw(malformed_bodies(known_serials=(registered_once.cert_serial,)))
    before = row_counts()
    if xml:
        response = client.post(CALL_HOME, data=b"<smartLicense><message><![CDATA[" + body + b"]]></message>"
                               b"</smartLicense>", content_type="application/xml")
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
