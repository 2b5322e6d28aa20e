"""NUL and unpaired surrogates, escaped in a message's JSON (``\\u0000``, ``\\ud800``), decode to text
no database can store: PostgreSQL refuses NUL in any text column, UTF-8 cannot encode a lone
surrogate. They are refused where the JSON is read, before any lookup or write."""

import json

import pytest

from tests.devices.devicesim import make_csr, row_counts, sign

pytestmark = pytest.mark.django_db

REFUSAL = "Strings must not contain NUL (\\u0000) or unpaired surrogates (\\ud800-\\udfff)."


def _post(dev, envelope):
    before = row_counts()
    response = dev.post(envelope)
    assert row_counts() == before
    return response


@pytest.mark.parametrize("bad", ["A\x00B", "A\ud800B", "\udfff"])
@pytest.mark.parametrize("where", ["udi_serial_number", "udi_pid", "hostname"])
def test_in_a_register_payload_it_is_400(device, token, where, bad):
    tok = token()
    dev = device()
    if where == "hostname":
        payload = dev.payload(id_token=tok.token, csr=make_csr(dev.key), hostname=bad)
    else:
        dev.sudi[where] = bad
        payload = dev.payload(id_token=tok.token, csr=make_csr(dev.key))
    response = _post(dev, dev.envelope("REGISTER", payload))
    assert response.status_code == 400, response.content[:300]
    assert json.loads(response.content) == {
        "status": "FAILED",
        "error_code": "MALFORMED",
        "message": f"The payload is refused: {REFUSAL}",
    }


@pytest.mark.parametrize("bad", ["A\x00B", "A\ud800B"])
def test_in_an_entitlement_tag_it_is_400(registered, bad):
    dev = registered()
    response = _post(dev, dev.envelope("AUTHORIZE", dev.payload(entitlements=[{"tag": bad, "count": 1}])))
    assert response.status_code == 400
    assert json.loads(response.content)["message"] == f"The payload is refused: {REFUSAL}"


@pytest.mark.parametrize("bad", ["\x00", "a\ud800"])
def test_in_the_envelope_itself_it_is_400(registered, bad):
    """signature.key is looked up in the database before the payload is even checked."""
    dev = registered()
    response = _post(dev, dev.envelope("AUTHORIZE", dev.payload(entitlements=[]), key=bad))
    assert response.status_code == 400
    assert json.loads(response.content)["message"] == REFUSAL


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
def test_in_a_usage_report_it_is_malformed(registered, bad):
    dev = registered()
    inner = json.dumps({"report_id": f"r{bad}", "usage": [{"tag": "x", "count": 1}]})
    report = {
        "header": {"type": "rum", "version": "1"},
        "payload": inner,
        "signature": {"signing_type": "ecdsa-p256-sha256", "key": "k", "value": sign(dev.key, inner.encode())},
    }
    response = _post(dev, dev.envelope("REPORT_USAGE", dev.payload(reports=[report])))
    reply = json.loads(json.loads(response.content)["payload"])
    assert (response.status_code, reply["status"], reply["error_code"]) == (200, "FAILED", "MALFORMED")
    assert reply["message"] == f"A report payload is refused: {REFUSAL}"


def test_an_escaped_character_that_is_fine_stays_fine(device, token):
    """\\u escapes of ordinary characters and of surrogate pairs (one emoji) are accepted."""
    dev = device("SN-\u00e9-\U0001f600")
    reply = dev.register(token())  # json.dumps escapes both: \u00e9 and \ud83d\ude00
    assert reply["status"] == "SUCCESS", reply
