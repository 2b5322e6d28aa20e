"""The agent's protocol flows against the loopback fake server (no Django)."""

import json

import pytest

from smart_agent import Agent, Failed, Identity, InvalidReply, NotRegistered, crypto
from smart_agent.state import CERT
from smart_agent.transport import ServerBusy

NE, DNA = "regid.2017-03.com.cisco.NETWORK_ESSENTIALS,1.0_ne", "regid.2017-03.com.cisco.DNA_ESSENTIALS,1.0_de"


def sent(fake_server, index=-1):
    path, document = fake_server.received[index]
    return path, document, json.loads(document["payload"])


def test_register_sends_a_csr_signed_envelope(make_agent, fake_server, identity):
    agent = make_agent()
    payload = agent.register("GOOD-TOKEN")
    assert payload["status"] == "SUCCESS" and agent.registered
    path, document, request = sent(fake_server)
    assert path == "/SmartTransport"
    assert document["header"] == {"type": "REGISTER", "version": "1"}
    assert document["signature"]["key"] == "csr"
    assert request["sudi"] == {
        "udi_pid": "C9300-24T",
        "udi_serial_number": "FOC2412X0AB",
        "udi_vid": "V02",
        "mac_address": "70:ca:9b:01:02:03",
    }
    assert request["software_tag"].startswith("regid.2014-05.com.cisco.C9300-24T,1.0_")
    assert {
        "id_token",
        "csr",
        "hostname",
        "ip_address",
        "product_name",
        "product_type",
        "agent_version",
        "force",
    } <= set(request)
    assert request["force"] is False and request["hostname"] == "acc-sw-1"
    assert isinstance(request["timestamp"], int) and len(request["nonce"]) >= 16
    # The CSR carries the device's own key, the one that signed the envelope.
    from cryptography import x509

    csr_key = x509.load_pem_x509_csr(request["csr"].encode()).public_key()
    assert crypto.verify(csr_key, document["payload"].encode(), document["signature"]["value"])
    # Later messages are signed with the ID certificate's serial.
    agent.authorize({NE: 1})
    assert sent(fake_server)[1]["signature"]["key"] == agent.state["certificate_serial"]


def test_full_life_cycle(make_agent, fake_server):
    agent = make_agent()
    agent.register("GOOD-TOKEN")
    pi = agent.state["product_instance_id"]
    reply = agent.authorize({NE: 1, DNA: 2})
    assert [a["status"] for a in reply["authorizations"]] == ["AUTHORIZED", "AUTHORIZED"]
    assert sent(fake_server)[2]["entitlements"] == [{"tag": NE, "count": 1}, {"tag": DNA, "count": 2}]
    assert agent.status()["compliance"] == "IN_COMPLIANCE"

    reply = agent.report()
    report = sent(fake_server)[2]["reports"][0]
    inner = json.loads(report["payload"])
    assert report["header"] == {"type": "rum", "version": "1"}
    assert inner["usage"] == [{"tag": NE, "count": 1}, {"tag": DNA, "count": 2}]
    assert inner["asset_identification"]["instance"]["product_instance_identifier"] == str(pi)
    assert inner["start_time"] <= inner["end_time"]
    assert [m["value"] for m in inner["measurements"]] == [
        {"type": "COUNT", "value": "1"},
        {"type": "COUNT", "value": "2"},
    ]
    assert reply["acks"] == [{"report_id": inner["report_id"], "status": "ACK"}]
    assert agent.state["pending_reports"] == []

    old_serial = agent.state["certificate_serial"]
    agent.renew_id()
    assert agent.state["certificate_serial"] != old_serial
    assert sent(fake_server)[1]["signature"]["key"] == old_serial  # the renewal is signed with the old cert
    agent.authorize({NE: 1})
    assert sent(fake_server)[1]["signature"]["key"] == agent.state["certificate_serial"]

    released = agent.deregister()["released"]
    assert released == [{"tag": NE, "count": 1}]
    assert not agent.registered and agent.store.read(CERT) is None
    with pytest.raises(NotRegistered):
        agent.authorize({NE: 1})


def test_report_ids_are_unique_and_unacknowledged_reports_are_resent(make_agent, fake_server):
    agent = make_agent()
    agent.register("GOOD-TOKEN")
    agent.authorize({NE: 1})
    ids = set()
    for _ in range(5):
        agent.report()
        ids.add(json.loads(sent(fake_server)[2]["reports"][0]["payload"])["report_id"])
    assert len(ids) == 5 and len(fake_server.reports) == 5
    # The reply to the next report is lost (the server stored it): it stays pending and is resent as is.
    fake_server.script = [(503, {"Retry-After": "0"}, b"")] * 10
    agent.transport.retry = type(agent.transport.retry)(max_retries=0)
    with pytest.raises(ServerBusy):
        agent.report({NE: 3})
    pending = agent.state["pending_reports"]
    assert len(pending) == 1
    fake_server.script = []
    reply = agent.report({NE: 4})
    reports = sent(fake_server)[2]["reports"]
    assert reports[0] == pending[0]  # byte-for-byte the same report, same id
    assert [a["status"] for a in reply["acks"]] == ["ACK", "ACK"] and agent.state["pending_reports"] == []
    # A resent report the server already had is acknowledged as DUPLICATE and dropped too.
    agent.state["pending_reports"] = [pending[0]]
    assert agent.report([])["acks"] == [
        {"report_id": json.loads(pending[0]["payload"])["report_id"], "status": "DUPLICATE"}
    ]


def test_renew_with_a_new_key(make_agent, fake_server, tmp_path):
    agent = make_agent()
    agent.register("GOOD-TOKEN")
    before = (tmp_path / "state" / "key.pem").read_bytes()
    agent.renew_id(rotate_key=True)
    assert (tmp_path / "state" / "key.pem").read_bytes() != before
    assert agent.authorize({NE: 1})["status"] == "SUCCESS"  # signed with the new key, accepted


def test_unknown_token_is_an_advisory_failure(make_agent, fake_server):
    agent = make_agent()
    with pytest.raises(Failed) as caught:
        agent.register("NOT-A-TOKEN")
    assert caught.value.error_code == "TOKEN_UNKNOWN"
    assert caught.value.message == "The registration token is not valid."
    assert caught.value.verified is False
    assert not agent.registered


@pytest.mark.parametrize("mode", ["payload", "unsigned", "foreign_key", "wrong_type", "in_reply_to"])
def test_invalid_replies_change_nothing(make_agent, fake_server, mode):
    agent = make_agent()
    agent.register("GOOD-TOKEN")
    agent.authorize({NE: 1})
    before = json.dumps(agent.state, sort_keys=True)
    fake_server.tamper = mode
    with pytest.raises(InvalidReply):
        agent.authorize({NE: 5})
    assert json.dumps(agent.state, sort_keys=True) == before
    # Not even at registration: a tampered REGISTER reply installs no certificate.
    fresh = make_agent(
        state_dir=agent.store.path.parent / "fresh",
        identity=Identity("CSR1000V", "9ABCDEF1234", uuid="6f1c2f5e-2b8e-4f0e-9f43-0d0c1e2a7b11"),
    )
    with pytest.raises(InvalidReply):
        fresh.register("GOOD-TOKEN")
    assert not fresh.registered


def test_failed_reply_is_raised_with_code(make_agent, fake_server):
    agent = make_agent()
    agent.register("GOOD-TOKEN")
    fake_server.devices.clear()  # the server forgot us
    with pytest.raises(Failed) as caught:
        agent.deregister()
    assert caught.value.error_code == "NOT_REGISTERED"
    assert caught.value.message == "The product instance is not registered."
    assert agent.registered  # kept: forget() is the explicit way out
    agent.forget()
    assert not agent.registered and agent.identity.udi_serial_number == "FOC2412X0AB"


def test_poll_until_complete(make_agent, fake_server):
    agent = make_agent()
    agent.register("GOOD-TOKEN")
    reply = agent.export_authorize({"regid.hsec": 1})
    poll_id = reply["poll_id"]
    assert agent.status()["pending_polls"][poll_id]["type"] == "EXPORT_AUTHORIZE"
    assert agent.poll()[poll_id]["status"] == "OK_POLL"
    assert poll_id in agent.state["pending_polls"]
    result = agent.poll(poll_id)[poll_id]
    assert result["status"] == "COMPLETE" and result["result"] == "authorization-granted"
    assert agent.state["pending_polls"] == {}
    assert agent.state["completed_polls"][poll_id]["result"] == "authorization-granted"


def test_legacy_xml_path(make_agent, fake_server):
    agent = make_agent(legacy=True)
    agent.register("GOOD-TOKEN")
    assert fake_server.received[-1][0] == "/Transportgateway/services/DeviceRequestHandler"
    assert agent.authorize({NE: 1})["status"] == "SUCCESS"


def test_bad_entitlements_are_refused_before_sending(make_agent, fake_server):
    agent = make_agent()
    agent.register("GOOD-TOKEN")
    count = len(fake_server.received)
    for bad in ({NE: -1}, {NE: "1"}, {"": 1}, {NE: True}):
        with pytest.raises(ValueError):
            agent.authorize(bad)
    assert len(fake_server.received) == count


def test_trust_anchor_must_match(make_agent, fake_server):
    from tests.smart_agent.agent_fake_server import self_signed

    _, stranger = self_signed("stranger")
    agent = make_agent(trust_anchors=[stranger])
    with pytest.raises(crypto.ChainError, match="trusted CA"):
        agent.register("GOOD-TOKEN")
    assert not agent.registered
    assert make_agent(trust_anchors=[fake_server.authority]).register("GOOD-TOKEN")["status"] == "SUCCESS"


def test_identity_is_validated():
    with pytest.raises(ValueError, match="udi_serial_number"):
        Identity("C9300-24T", "")
    with pytest.raises(ValueError, match="MAC"):
        Identity("C9300-24T", "FOC1", mac_address="zz")
    assert Agent(None, None, Identity("A", "B")).status()["registered"] is False


@pytest.mark.parametrize("serial", ["ABCé1", "ABC_1", "ABC@1", "序列号-7", "A" * 255])
def test_an_odd_serial_registers_and_goes_into_the_csr_exactly(make_agent, fake_server, serial):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    agent = make_agent(identity=Identity("C9300-24T", serial))
    assert agent.register("GOOD-TOKEN")["status"] == "SUCCESS"
    _, _, request = sent(fake_server)
    assert request["sudi"]["udi_serial_number"] == serial
    subject = x509.load_pem_x509_csr(request["csr"].encode()).subject
    assert subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == serial[:64]
    assert agent.renew_id()["status"] == "SUCCESS"  # the renewal's CSR too


@pytest.mark.parametrize(
    "field, value",
    [
        ("udi_serial_number", "A\nB"),
        ("udi_serial_number", "A\x00B"),
        ("udi_serial_number", "ABC\u202e1"),
        ("udi_serial_number", "A\ud800"),
        ("udi_serial_number", "A" * 256),
        ("udi_pid", "C9300\t24T"),
    ],
)
def test_identity_refuses_a_udi_the_server_would(field, value):
    parts = {"udi_pid": "C9300-24T", "udi_serial_number": "FOC2412X0AB", field: value}
    with pytest.raises(ValueError, match=field):
        Identity(**parts)
